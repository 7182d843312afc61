//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// webhookDaemon starts a daemon with the webhook enabled; its scenarios post
// Alertmanager's payloads themselves, so they need not share the sandbox's
// Alertmanager and run in parallel.
func webhookDaemon(t *testing.T, env *framework.Env, ns string, extra map[string]string) *framework.Daemon {
	t.Helper()
	opts := framework.DaemonOptions{Namespaces: []string{ns},
		Env: map[string]string{"ROLLOUTD_WEBHOOK_TOKEN_FILE": env.WebhookTokenFile}}
	for k, v := range extra {
		opts.Env[k] = v
	}
	return env.StartDaemon(t, opts)
}

// heldAtTenPercent releases name v1 -> v2 under a webhook daemon with a step
// interval of 10m, so the rollout waits at 10% for whatever the scenario sends,
// and returns the daemon and the status at 10%.
func heldAtTenPercent(t *testing.T, env *framework.Env, ns, name string) (*framework.Daemon, contract.Status) {
	t.Helper()
	a := app{name: name, replicas: 3, router: "nginx", rps: 100, annotations: map[string]string{
		"rolloutd.io/interval": "10m", "rolloutd.io/checks": "cpu<=2x"}}
	d := webhookDaemon(t, env, ns, nil)
	a.create(t, env.Kube, ns)
	release(t, env.Kube, ns, a.name, "example.com/"+name+":v2", nil)
	return d, waitWeight(t, env, ns, a.name, 10)
}

// postAlert sends Alertmanager's webhook payload for one firing alert labelled
// namespace=ns and deployment=deployment, firing since startsAt.
func postAlert(t *testing.T, env *framework.Env, d *framework.Daemon, ns, deployment, name string, startsAt time.Time) {
	t.Helper()
	labels := map[string]string{"alertname": name, "namespace": ns, "deployment": deployment, "severity": "critical"}
	body, err := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": "rolloutd", "groupKey": "{}:{}",
		"groupLabels": map[string]string{}, "commonLabels": labels, "commonAnnotations": map[string]string{},
		"alerts": []map[string]any{{"status": "firing", "labels": labels, "annotations": map[string]string{},
			"startsAt": startsAt.UTC().Format(time.RFC3339Nano), "fingerprint": fmt.Sprintf("%s-%d", name, startsAt.UnixNano())}}})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, d.URL()+"/webhooks/alertmanager", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+readToken(t, env.WebhookTokenFile))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// waitWeight waits until the rollout of name has weight w on the canary.
func waitWeight(t *testing.T, env *framework.Env, ns, name string, w int) contract.Status {
	t.Helper()
	var st contract.Status
	framework.Eventually(t, 2*time.Minute, fmt.Sprintf("%s at %d%%", name, w), func() (bool, error) {
		st, _ = readStatus(t, env.Kube, ns, name)
		return st.Phase == contract.Progressing && st.Weight == w, fmt.Errorf("phase %s weight %d: %s", st.Phase, st.Weight, st.Message)
	})
	return st
}

// after lists the phases recorded from the first p on (nil when p never came).
func (l *phaseLog) after(p contract.Phase) []contract.Phase {
	all := l.seen()
	for i, q := range all {
		if q == p {
			return all[i:]
		}
	}
	return nil
}

// requireRolledBackByAlert waits for the rollback an alert started to finish, and
// checks that traffic and the canary are gone and the stable runs image.
func requireRolledBackByAlert(t *testing.T, env *framework.Env, ns, name, image string) contract.Status {
	t.Helper()
	st := waitPhase(t, env.Kube, ns, name, 2*time.Minute, contract.RolledBack)
	// The outcome's record: a later message (annotations still invalid) may
	// replace the status message, never the record.
	rec, ok := st.Record(st.Revision)
	require.True(t, ok, "outcome recorded")
	assert.Equal(t, contract.ReasonAlert, rec.Reason)
	assert.Equal(t, 0, st.Weight)
	requireNoCanaryObjects(t, env.Kube, ns, name)
	framework.Eventually(t, time.Minute, "stable runs "+image, func() (bool, error) {
		return runningImage(t, env.Kube, ns, name) == image, nil
	})
	return st
}

// Given a rollout at 10% whose interval, alert selector, alert-rollback or
// checks annotation then gets a typo, when an operator aborts or an alert fires, then the
// canary is rolled back all the same (the alert matched against the alert
// settings as they last parsed), and a Warning Event named the annotation.
func TestTypoMidRolloutNeverDisablesARollback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, key, typo, how string }{
		{"abort", "rolloutd.io/interval", "5x", "abort"},
		{"alert", "rolloutd.io/interval", "5x", "alert"},
		{"alert-selector", "rolloutd.io/alert-selector", "severity:critical", "alert"},
		{"alert-rollback", "rolloutd.io/alert-rollback", "ture", "alert"},
		// A factor too small to be written back (it would read "cpu<=0x").
		{"checks-factor", "rolloutd.io/checks", "cpu<=1e-7x", "abort"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, ns := namespaceScenario(t)
			a := app{name: "typo", replicas: 3, router: "nginx", rps: 100, annotations: map[string]string{
				"rolloutd.io/steps": "10,50", "rolloutd.io/interval": "10m", "rolloutd.io/checks": "cpu<=2x",
				"rolloutd.io/alert-selector": "severity=critical"}}
			d := webhookDaemon(t, env, ns, nil)
			a.create(t, env.Kube, ns)
			release(t, env.Kube, ns, a.name, "example.com/typo:v2", nil)
			waitWeight(t, env, ns, a.name, 10)

			patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, tc.key, tc.typo))
			_, err := env.Kube.AppsV1().Deployments(ns).Patch(context.Background(), a.name, types.MergePatchType, patch, metav1.PatchOptions{})
			require.NoError(t, err)
			framework.Eventually(t, time.Minute, "InvalidSpec Warning naming the annotation", func() (bool, error) {
				return eventWith(t, env, ns, corev1.EventTypeWarning, "InvalidSpec", tc.key), nil
			})

			if tc.how == "abort" {
				newOperator(t, env, ns).must("abort", a.name)
				st := waitPhase(t, env.Kube, ns, a.name, 2*time.Minute, contract.Aborted)
				assert.Equal(t, 0, st.Weight)
				requireNoCanaryObjects(t, env.Kube, ns, a.name)
				return
			}
			postAlert(t, env, d, ns, a.name, "TypoBurning", time.Now())
			requireRolledBackByAlert(t, env, ns, a.name, "example.com/typo:v1")
		})
	}
}

// eventWith reports whether the namespace holds an Event of type and reason whose
// message contains text.
func eventWith(t *testing.T, env *framework.Env, ns, kind, reason, text string) bool {
	t.Helper()
	evs, err := env.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	for _, e := range evs.Items {
		if e.Type == kind && e.Reason == reason && strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}

// Given a rollout at 10%, when an alert labelled with the canary copy
// (deployment="<name>-canary") fires, then the Deployment under release rolls back.
func TestAlertAboutTheCanaryCopyRollsBack(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	a := app{name: "copy"}
	d, _ := heldAtTenPercent(t, env, ns, a.name)

	postAlert(t, env, d, ns, a.name+"-canary", "CanaryErrors", time.Now())
	st := requireRolledBackByAlert(t, env, ns, a.name, "example.com/copy:v1")
	assert.Contains(t, st.Message, "CanaryErrors")
}

// Given a rollout at 10% and Prometheus' clock running behind the daemon's, when
// an alert starts just after the rollout by Prometheus' clock (so its startsAt is a
// few seconds before the rollout's start by the daemon's), then it rolls back.
func TestAlertStampedBySlowerPrometheusClockRollsBack(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	a := app{name: "skew"}
	d, st := heldAtTenPercent(t, env, ns, a.name)
	require.NotNil(t, st.StartedAt)

	const behind = 10 * time.Second
	postAlert(t, env, d, ns, a.name, "SkewedClock", st.StartedAt.Add(time.Second-behind))
	requireRolledBackByAlert(t, env, ns, a.name, "example.com/skew:v1")
}

// Given a release whose promotion is under way, when an alert fires, then it rolls
// back at once: the rollout never reaches Succeeded, and the stable pods end on the
// previous revision.
func TestAlertWhilePromotingRollsBackAtOnce(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	a := app{name: "promoting", replicas: 6, router: "nginx", rps: 100, annotations: map[string]string{
		"rolloutd.io/steps": "10", "rolloutd.io/interval": "3s", "rolloutd.io/checks": "cpu<=5x"}}
	d := webhookDaemon(t, env, ns, nil)
	a.create(t, env.Kube, ns)
	phases := watchPhases(t, env.Kube, ns, a.name)
	release(t, env.Kube, ns, a.name, "example.com/promoting:v2", nil)

	framework.Eventually(t, 2*time.Minute, "promotion under way", func() (bool, error) {
		p := phases.seen()
		return len(p) > 0 && p[len(p)-1] == contract.Promoting, fmt.Errorf("phases %v", p)
	})
	postAlert(t, env, d, ns, a.name, "PromotionBurning", time.Now())

	requireRolledBackByAlert(t, env, ns, a.name, "example.com/promoting:v1")
	assert.NotContains(t, phases.after(contract.Promoting), contract.Succeeded, "phases %v", phases.seen())
}

// Given a rollout whose gate is due while Prometheus never answers (each query
// would wait a minute), when an alert fires or an operator aborts, then traffic
// leaves the canary without waiting for the hanging queries, and the cancelled
// gate is not counted as a failure.
func TestInterventionsNeverWaitForAHangingPrometheus(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"alert", "abort"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			env, ns := namespaceScenario(t)
			prom := startFaultyProm(t, env.PromURL, 10*time.Minute)
			a := app{name: "hang", replicas: 3, router: "nginx", rps: 100, annotations: map[string]string{
				"rolloutd.io/interval": "2s", "rolloutd.io/checks": "cpu<=2x"}}
			d := webhookDaemon(t, env, ns, map[string]string{"ROLLOUTD_PROMETHEUS_URL": prom.URL,
				"ROLLOUTD_QUERY_TIMEOUT": "1m"})
			a.create(t, env.Kube, ns)
			release(t, env.Kube, ns, a.name, "example.com/hang:v2", nil)
			waitWeight(t, env, ns, a.name, 10)
			prom.set(promSlow)
			framework.Eventually(t, time.Minute, "a gate waiting on Prometheus", func() (bool, error) {
				return prom.pending.Load() > 0, nil
			})

			if how == "abort" {
				newOperator(t, env, ns).must("abort", a.name)
			} else {
				postAlert(t, env, d, ns, a.name, "HangBurning", time.Now())
			}
			// Well below the minute a query would hang.
			framework.Eventually(t, 20*time.Second, "traffic off the canary", func() (bool, error) {
				st, _ := readStatus(t, env.Kube, ns, a.name)
				return st.Phase == contract.RollingBack || st.Phase == contract.RolledBack || st.Phase == contract.Aborted,
					fmt.Errorf("phase %s: %s", st.Phase, st.Message)
			})
			st, _ := readStatus(t, env.Kube, ns, a.name)
			assert.Zero(t, st.Failures, "the cancelled gate is not judged")
			requireNoCanaryObjects(t, env.Kube, ns, a.name)
		})
	}
}

// denyRecordedRollbacks installs an admission policy refusing every update of a
// Deployment in ns whose status records a rollback, and waits until the API
// server enforces it; it is removed at cleanup.
func denyRecordedRollbacks(t *testing.T, env *framework.Env, ns, probe string) func() {
	t.Helper()
	ctx := context.Background()
	name := ns + "-deny-rollbacks"
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{Operations: []admissionv1.OperationType{admissionv1.Update},
					Rule: admissionv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}}}}}},
			Validations: []admissionv1.Validation{{Message: "rollbacks may not be recorded here",
				Expression: `!has(object.metadata.annotations) || !('rolloutd.io/status' in object.metadata.annotations) || ` +
					`!object.metadata.annotations['rolloutd.io/status'].contains('"RollingBack"')`}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}}},
	}
	api := env.Kube.AdmissionregistrationV1()
	_, err := api.ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = api.ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{})
	require.NoError(t, err)
	remove := func() {
		_ = api.ValidatingAdmissionPolicyBindings().Delete(ctx, name, metav1.DeleteOptions{})
		_ = api.ValidatingAdmissionPolicies().Delete(ctx, name, metav1.DeleteOptions{})
	}
	t.Cleanup(remove)
	patch := []byte(`{"metadata":{"annotations":{"rolloutd.io/status":"{\"phase\":\"RollingBack\"}"}}}`)
	framework.Eventually(t, time.Minute, "the admission policy enforced", func() (bool, error) {
		_, err := env.Kube.AppsV1().Deployments(ns).Patch(ctx, probe, types.MergePatchType, patch,
			metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), "rollbacks may not be recorded here"), err
	})
	return remove
}

// Given a rollout at 10% in a namespace whose admission policy refuses to record a
// rollback, when an alert fires, then traffic leaves the canary all the same and a
// Warning Event says the status could not be written; once the policy is gone the
// rollback is recorded and finishes.
func TestRollbackLeavesTheCanaryEvenIfItsStatusCannotBeWritten(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	a := app{name: "unwritable"}
	d, _ := heldAtTenPercent(t, env, ns, a.name)
	allow := denyRecordedRollbacks(t, env, ns, a.name)

	postAlert(t, env, d, ns, a.name, "UnwritableBurning", time.Now())
	framework.Eventually(t, time.Minute, "traffic off the canary", func() (bool, error) {
		_, err := env.Kube.NetworkingV1().Ingresses(ns).Get(context.Background(), a.name+"-canary", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	framework.Eventually(t, time.Minute, "StatusWriteFailed Warning", func() (bool, error) {
		return eventWith(t, env, ns, corev1.EventTypeWarning, "StatusWriteFailed", "traffic taken off the canary"), nil
	})
	st, _ := readStatus(t, env.Kube, ns, a.name)
	assert.Equal(t, contract.Progressing, st.Phase, "the policy refused the rollback's status")

	allow()
	requireRolledBackByAlert(t, env, ns, a.name, "example.com/unwritable:v1")
}

// Given a rollout at 10%, when the canary's pods stop being Ready under load (as a
// crash loop makes them), then after the unready limit the canary is rolled back
// with that reason.
func TestCanaryLosingReadyPodsIsRolledBack(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	a := app{name: "flaky", replicas: 3, router: "nginx", rps: 100, annotations: map[string]string{
		"rolloutd.io/interval": "10m", "rolloutd.io/checks": "cpu<=2x"}}
	env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns},
		Env: map[string]string{"ROLLOUTD_CANARY_UNREADY_LIMIT": "5s"}})
	a.create(t, env.Kube, ns)
	release(t, env.Kube, ns, a.name, "example.com/flaky:v2", nil)
	waitWeight(t, env, ns, a.name, 10)

	ctx := context.Background()
	pods, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "rolloutd.io/canary-of=" + a.name})
	require.NoError(t, err)
	require.NotEmpty(t, pods.Items)
	for i := range pods.Items {
		p := &pods.Items[i]
		for j := range p.Status.Conditions {
			if c := &p.Status.Conditions[j]; c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
				c.Status, c.LastTransitionTime = corev1.ConditionFalse, metav1.Now()
			}
		}
		_, err := env.Kube.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		require.NoError(t, err)
	}

	st := waitPhase(t, env.Kube, ns, a.name, 2*time.Minute, contract.RolledBack)
	assert.Equal(t, contract.ReasonNotReady, st.Reason)
	assert.Contains(t, st.Message, "Ready pods its 10% of traffic needs")
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
}

// Given a blue/green release switched over (the new pods carry all traffic, the
// stable pods idle, waiting for confirmation), when an autoscaler scales the idle
// stable down, then the canary carrying the traffic keeps its size, and an abort
// switches back onto a stable grown back to its size.
func TestAutoscalerOnIdleStableNeverShrinksTheCanary(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	a := app{name: "hpa", replicas: 4, router: "nginx", rps: 100, annotations: map[string]string{
		"rolloutd.io/strategy": "bluegreen", "rolloutd.io/interval": "3s", "rolloutd.io/checks": "cpu<=5x"}}
	env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns}})
	a.create(t, env.Kube, ns)
	release(t, env.Kube, ns, a.name, "example.com/hpa:v2", nil)
	waitPhase(t, env.Kube, ns, a.name, 2*time.Minute, contract.PendingConfirmation)

	ctx := context.Background()
	canaryReplicas := func() int32 {
		c, err := env.Kube.AppsV1().Deployments(ns).Get(ctx, a.name+"-canary", metav1.GetOptions{})
		require.NoError(t, err)
		return *c.Spec.Replicas
	}
	require.Equal(t, int32(4), canaryReplicas())
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := env.Kube.AppsV1().Deployments(ns).GetScale(ctx, a.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		scale.Spec.Replicas = 1 // what an HPA does to pods without traffic
		_, err = env.Kube.AppsV1().Deployments(ns).UpdateScale(ctx, a.name, scale, metav1.UpdateOptions{})
		return err
	})
	require.NoError(t, err)
	consistently(t, 5*time.Second, "the canary keeps its size", func() error {
		if n := canaryReplicas(); n != 4 {
			return fmt.Errorf("canary shrunk to %d", n)
		}
		return nil
	})

	newOperator(t, env, ns).must("abort", a.name)
	waitPhase(t, env.Kube, ns, a.name, 2*time.Minute, contract.Aborted)
	_, d := readStatus(t, env.Kube, ns, a.name)
	assert.Equal(t, int32(4), *d.Spec.Replicas, "the switch back grew the stable to the size it had")
}
