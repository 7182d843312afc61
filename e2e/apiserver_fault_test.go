//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// heldDownAfterFailure is how long the apiserver stays down after the daemon's
// first failed reconcile: the fault itself, not a synchronisation.
const heldDownAfterFailure = 4 * time.Second

// Given opted-in Deployments mid-rollout whose daemon talks to an apiserver of its
// own (a second one on the sandbox's etcd), when that apiserver is SIGKILLed, kept
// down while the daemon's reconciles fail, and restarted on the same port, then the
// same daemon process (client-go re-establishes its watches) promotes every good
// release and rolls back every bad one, no status is written while it is down,
// each status names the revision the stable pods really run, nothing unvetted
// reaches the stable pods and every invariant holds.
func TestFaultAPIServerRestartedMidRolloutConverges(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	api := env.StartAPIServer(t)
	// The bad releases must still be at their first step when the apiserver
	// goes down: a sampler that never ticks in the test leaves them to their 10 s gates, which a
	// continuous judge ticking every 10 s would beat.
	d := env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns},
		Env: map[string]string{"KUBECONFIG": api.Kubeconfig, "ROLLOUTD_SAMPLE_INTERVAL": "1h"}})
	apps := []app{apiFaultApp("good-nginx", "nginx"), apiFaultApp("good-svc", "service"),
		apiFaultApp("bad-nginx", "nginx"), apiFaultApp("bad-svc", "service")}
	createApps(t, env.Kube, ns, apps)
	sw := watchStable(t, env.Kube, ns)

	errs := make([]error, len(apps))
	var wg sync.WaitGroup
	for i, a := range apps {
		bad := strings.HasPrefix(a.name, "bad")
		wg.Go(func() { errs[i] = runReleases(t.Context(), env.Kube, ns, a.name, []bool{bad}) })
	}
	waitMidRollout(t, env.Kube, ns, apps)

	errorsBefore := failedWrites(t, d)
	api.Kill()
	killed := time.Now()
	framework.Eventually(t, 30*time.Second, "a failed reconcile while the apiserver is down", func() (bool, error) {
		n := failedWrites(t, d)
		return n > errorsBefore, fmt.Errorf("failed reconciles %v, %v before the kill", n, errorsBefore)
	})
	failedAfter := time.Since(killed)
	frozen, err := statusAnnotations(env.Kube, ns)
	require.NoError(t, err)
	time.Sleep(heldDownAfterFailure) // the outage, not a wait for a condition
	require.True(t, d.Running(), "the daemon exited while its apiserver was down:\n%s", d.LogTail(30))
	errorsDown := failedWrites(t, d) - errorsBefore

	restarted := time.Now()
	api.Start()
	down, ready := time.Since(killed), time.Since(restarted)
	framework.Eventually(t, 2*time.Minute, "a status write once the apiserver is back", func() (bool, error) {
		now, err := statusAnnotations(env.Kube, ns)
		return err == nil && !maps.Equal(frozen, now), err
	})
	resumed := time.Since(restarted)
	wg.Wait()
	converged := time.Since(restarted)

	require.NoError(t, errors.Join(errs...))
	requireInvariants(t, env.Kube, ns)
	requireStableRevisionRunning(t, env.Kube, ns)
	for _, img := range sw.requireOnlyVetted(t) {
		assert.NotContains(t, img, "-bad", "a bad release reached the stable pods")
	}
	assert.True(t, d.Running(), "the daemon process stayed up across the apiserver restart")
	ms := 100 * time.Millisecond
	t.Logf("apiserver down %v (first failed reconcile %v after the kill, %v failed reconciles while down); "+
		"after the restart: ready in %v, first status write in %v, every rollout settled in %v",
		down.Round(ms), failedAfter.Round(ms), errorsDown, ready.Round(ms), resumed.Round(ms), converged.Round(ms))
}

// failedWrites counts the daemon's reconciles that failed for another reason than
// a conflict, a refusal or a missing object: an unreachable apiserver.
func failedWrites(t *testing.T, d *framework.Daemon) float64 {
	return metricSum(t, d, `rolloutd_reconcile_errors_total{kind="other"}`)
}

// apiFaultApp is a faultApp with 10 s steps, so that every release is still at its
// first canary step when the apiserver goes down.
func apiFaultApp(name, router string) app {
	a := faultApp(name, router)
	a.annotations = maps.Clone(a.annotations)
	a.annotations["rolloutd.io/interval"] = "10s"
	return a
}

// waitMidRollout waits until every app's current template is Progressing with
// canary traffic and its canary Deployment exists.
func waitMidRollout(t *testing.T, kube kubernetes.Interface, ns string, apps []app) {
	t.Helper()
	ctx := context.Background()
	framework.Eventually(t, time.Minute, "every release Progressing with a canary", func() (bool, error) {
		for _, a := range apps {
			dep, err := kube.AppsV1().Deployments(ns).Get(ctx, a.name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			st, err := contract.Read(dep.Annotations)
			if err != nil {
				return false, err
			}
			if st.Phase != contract.Progressing || st.Weight == 0 || st.Revision != workload.Revision(dep.Spec.Template) {
				return false, fmt.Errorf("%s: %s at weight %d (%s)", a.name, st.Phase, st.Weight, st.Message)
			}
			if _, err := kube.AppsV1().Deployments(ns).Get(ctx, contract.CanaryName(a.name), metav1.GetOptions{}); err != nil {
				return false, fmt.Errorf("%s: canary: %w", a.name, err)
			}
		}
		return true, nil
	})
}

// requireStableRevisionRunning checks that each settled status names, as its
// stable revision, the template the stable pods run (read from the API, not from
// the daemon's cache, which a relist after the restart refills).
func requireStableRevisionRunning(t *testing.T, kube kubernetes.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	deps, err := kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	sets, err := kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for i := range deps.Items {
		dep := &deps.Items[i]
		if dep.Labels[contract.CanaryOfLabel] != "" {
			continue
		}
		st, err := contract.Read(dep.Annotations)
		require.NoError(t, err)
		assert.Equal(t, runningRevision(dep, sets.Items), st.StableRevision, "%s: stable revision in its %s status", dep.Name, st.Phase)
	}
}

// statusAnnotations maps each user Deployment of ns to its raw status annotation.
func statusAnnotations(kube kubernetes.Interface, ns string) (map[string]string, error) {
	deps, err := kube.AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list Deployments: %w", err)
	}
	out := map[string]string{}
	for _, dep := range deps.Items {
		if dep.Labels[contract.CanaryOfLabel] == "" {
			out[dep.Name] = dep.Annotations[contract.StatusKey]
		}
	}
	return out, nil
}
