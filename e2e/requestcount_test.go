//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given an opted-in Deployment with router istio whose canary got its first step,
// when every canary pod turns unready (so the mesh answers the canary's share of
// requests itself, 503 with flag UH, and no pod ever sees them), then the gate
// counts those 503s as canary errors: error-rate fails with the canary's figure
// (not "not enough traffic") and the release is rolled back naming error-rate.
func TestIstioMeshAnswered503sCountAsCanaryErrors(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := app{name: "web", replicas: 3, router: "istio", rps: 200}
	a.create(t, env.Kube, ns)

	release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)
	framework.Eventually(t, time.Minute, "the canary gets traffic", func() (bool, error) {
		st, _ := readStatus(t, env.Kube, ns, a.name)
		return st.Phase == contract.Progressing && st.Weight > 0, fmt.Errorf("phase %s weight %d", st.Phase, st.Weight)
	})
	makeCanaryUnready(t, env, ns, a.name)

	var failed *contract.CheckResult
	framework.Eventually(t, time.Minute, "error-rate fails on the mesh's 503s", func() (bool, error) {
		st, _ := readStatus(t, env.Kube, ns, a.name)
		c := findCheck(st.Checks, "error-rate")
		if c != nil && c.Verdict == contract.Fail {
			failed = c
			return true, nil
		}
		if st.Phase == contract.RolledBack || st.Phase == contract.Succeeded {
			return false, fmt.Errorf("ended %s before error-rate failed: %s", st.Phase, st.Message)
		}
		return false, fmt.Errorf("error-rate %+v", c)
	})
	t.Logf("error-rate: %s", failed.Reason)
	require.NotNil(t, failed.Value)
	// The canary's evidence starts with its healthy first seconds and the judge
	// decides as soon as it is conclusive, so the share is well above the allowance
	// but need not be a majority.
	assert.Greater(t, *failed.Value, 0.1, "the mesh's 503s are counted as canary errors")
	assert.NotContains(t, failed.Reason, "not enough traffic")
	requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.RolledBack)
}

// makeCanaryUnready marks every canary pod of name not Ready, as a failing
// readiness probe would; the simulator then has no healthy canary pod to send to.
func makeCanaryUnready(t *testing.T, env *framework.Env, ns, name string) {
	t.Helper()
	ctx := context.Background()
	pods, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "rolloutd.io/canary-of=" + name})
	require.NoError(t, err)
	require.NotEmpty(t, pods.Items, "canary pods")
	for _, p := range pods.Items {
		for i, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
				p.Status.Conditions[i].Status = corev1.ConditionFalse
				p.Status.Conditions[i].LastTransitionTime = metav1.Now()
			}
		}
		for i := range p.Status.ContainerStatuses {
			p.Status.ContainerStatuses[i].Ready = false
		}
		_, err := env.Kube.CoreV1().Pods(ns).UpdateStatus(ctx, &p, metav1.UpdateOptions{})
		require.NoError(t, err, "pod %s", p.Name)
	}
}

// Given an application whose own request metric labels the status status_code
// (router service, so the daemon reads http_requests_total), when a release
// answers every request 500, then it is never promoted:
//   - with the default status label (code) the error-rate check fails, naming the
//     missing label, instead of reading "no 5xx series" as no errors;
//   - with ROLLOUTD_STATUS_LABELS=service=status_code the daemon counts the errors
//     and error-rate fails on the canary's 100%.
func TestErrorRateWithoutTheStatusLabelNeverPasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		env    map[string]string
		reason string
	}{
		{"default label names the missing label", nil, `carry no "code" label`},
		{"configured label counts the errors", map[string]string{"ROLLOUTD_STATUS_LABELS": "service=status_code"}, "100%"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, ns := namespaceScenario(t)
			env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns}, Env: tc.env})
			label := map[string]string{"sim.rolloutd.io/status-label": "status_code"}
			a := app{name: "web", replicas: 3, router: "service", rps: 200, podAnn: label}
			a.create(t, env.Kube, ns)
			phases := watchPhases(t, env.Kube, ns, a.name)

			release(t, env.Kube, ns, a.name, "example.com/web:broken", map[string]string{
				"sim.rolloutd.io/status-label": "status_code", "sim.rolloutd.io/error-rate": "1"})

			st := requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.RolledBack)
			assert.NotContains(t, phases.seen(), contract.Promoting)
			c := findCheck(st.Checks, "error-rate")
			require.NotNil(t, c, "status checks %+v", st.Checks)
			assert.Equal(t, contract.Fail, c.Verdict)
			assert.True(t, strings.Contains(c.Reason, tc.reason), "reason %q, want %q", c.Reason, tc.reason)
		})
	}
}
