//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given a batch release holding half of 10 pods on the canary (waiting for
// approval), when every rolloutd.io annotation is removed at once and the daemon
// is killed and restarted in the middle of the hand-back, or the annotations are
// removed while the daemon is stopped, then the restarted daemon finishes the
// hand-back as an opt-out does: the stable grows back to the user's 10 replicas
// in chunks of max-surge (1) before the canary's pods go (never fewer than 10
// Ready, never more than 11 pods), the canary copy is removed, the Deployment is
// un-paused as the user had it, and no rolloutd.io annotation is written back.
func TestStrippedBatchHandBackSurvivesADaemonRestart(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// leave strips the annotations and restarts the daemon around it.
		leave func(t *testing.T, env *framework.Env, daemon *framework.Daemon, ns, name string)
	}{
		{name: "killed during the hand-back", leave: stripThenKillMidHandBack},
		{name: "stripped while stopped", leave: stripWhileStopped},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := framework.Get(t)
			ns := env.Namespace(t)
			daemon := env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns}})
			a := batchApp("web", "rolloutd.io/batches", "50%,100%", "rolloutd.io/pause-at", "1", "rolloutd.io/max-surge", "1")
			a.create(t, env.Kube, ns)
			release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)
			st := waitPhase(t, env.Kube, ns, a.name, batchTimeout, contract.Paused, contract.RolledBack)
			require.Equal(t, contract.Paused, st.Phase, "message: %s", st.Message)
			require.Equal(t, int32(5), st.Batch.Canary, "half the pods on the canary")
			pods := countPods(t, env.Kube, ns, a.name)
			t.Cleanup(func() { t.Logf("pod trace (time, stable, canary, total, Ready):\n%s", pods.trace()) })
			framework.Eventually(t, 30*time.Second, "the pod counter saw the 10 Ready pods", func() (bool, error) {
				s := pods.snapshot()
				return len(s) > 0 && s[len(s)-1].ready >= 10, nil
			})

			tc.leave(t, env, daemon, ns, a.name)

			framework.Eventually(t, 2*time.Minute, "handed back un-paused at 10 replicas, running v2", func() (bool, error) {
				d, err := env.Kube.AppsV1().Deployments(ns).Get(t.Context(), a.name, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				img := runningImage(t, env.Kube, ns, a.name)
				return !d.Spec.Paused && *d.Spec.Replicas == 10 && img == "example.com/web:v2",
					fmt.Errorf("paused %t, replicas %d, running %q", d.Spec.Paused, *d.Spec.Replicas, img)
			})
			requireNoCanaryObjects(t, env.Kube, ns, a.name)
			handedBack := func(s podSample) bool { return s.canary == 0 }
			pods.requireWithinUntil(t, handedBack, 10, 1, 0)
			requireNoRolloutdAnnotations(t, env, ns, a.name)
		})
	}
}

// stripThenKillMidHandBack strips the annotations, and as soon as a watch shows
// the stable grown by a chunk (the hand-back takes a few hundred milliseconds on
// the sandbox), kills the daemon (SIGKILL) while the canary still holds
// pods, and starts it again.
func stripThenKillMidHandBack(t *testing.T, env *framework.Env, daemon *framework.Daemon, ns, name string) {
	t.Helper()
	stripRolloutdAnnotations(t, env, ns, name)
	awaitDeployment(t, env.Kube, ns, name, time.Minute, "the stable grown by a chunk", func(_ contract.Status, d *appsv1.Deployment) bool {
		return *d.Spec.Replicas > 5
	})
	daemon.Kill()
	c, err := env.Kube.AppsV1().Deployments(ns).Get(t.Context(), name+"-canary", metav1.GetOptions{})
	require.NoError(t, err, "the canary copy is still there when the daemon dies")
	require.Positive(t, *c.Spec.Replicas, "the daemon died in the middle of the hand-back")
	daemon.Restart()
}

// stripWhileStopped stops the daemon, strips the annotations, and starts it again:
// the daemon never saw the last status.
func stripWhileStopped(t *testing.T, env *framework.Env, daemon *framework.Daemon, ns, name string) {
	t.Helper()
	daemon.Stop()
	stripRolloutdAnnotations(t, env, ns, name)
	_, err := env.Kube.AppsV1().Deployments(ns).Get(t.Context(), name+"-canary", metav1.GetOptions{})
	require.False(t, apierrors.IsNotFound(err), "the canary copy is there when the daemon starts")
	daemon.Restart()
}

// requireNoRolloutdAnnotations checks for a few seconds that no rolloutd.io
// annotation comes back on a Deployment that was stripped of them.
func requireNoRolloutdAnnotations(t *testing.T, env *framework.Env, ns, name string) {
	t.Helper()
	consistently(t, 3*time.Second, "no rolloutd annotation comes back", func() error {
		d, err := env.Kube.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for k := range d.Annotations {
			if strings.HasPrefix(k, "rolloutd.io/") {
				return fmt.Errorf("annotation %s written again", k)
			}
		}
		return nil
	})
}
