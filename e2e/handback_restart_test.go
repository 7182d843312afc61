//go:build e2e

package e2e

import (
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
			env, ns := namespaceScenario(t)
			daemon := env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns}})
			a := batchApp("web", "rolloutd.io/batches", "50%,100%", "rolloutd.io/pause-at", "1", "rolloutd.io/max-surge", "1")
			a.create(t, env.Kube, ns)
			pods := pausedAtHalf(t, env, ns, a.name)

			tc.leave(t, env, daemon, ns, a.name)

			requireHandedBackAtTen(t, env, ns, a.name, 2*time.Minute)
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
