//go:build e2e

package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given a daemon holding two opted-in Deployments, when every reconcile of one of
// them panics (a fault injected by annotation), then the daemon keeps running: the
// other one's release is promoted, the panics are counted and logged with their
// stack, and the panicking key is retried with backoff rather than in a hot loop.
func TestAPanickingReconcileDoesNotStopTheDaemon(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	d := env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns}})
	good := faultApp("good", "service")
	good.create(t, env.Kube, ns)
	bad := faultApp("bad", "service")
	bad.create(t, env.Kube, ns)
	pid := d.PID()

	annotateDeployment(t, env.Kube, ns, "bad", "e2e.rolloutd.io/panic", "true")
	framework.Eventually(t, time.Minute, "a panic counted", func() (bool, error) {
		return metricSum(t, d, "rolloutd_reconcile_panics_total") > 0, nil
	})

	release(t, env.Kube, ns, good.name, "example.com/good:v2", nil)
	requireEnds(t, env.Kube, ns, good.name, rolloutTimeout, contract.Succeeded)
	require.True(t, d.Running(), "the daemon is still running")
	assert.Equal(t, pid, d.PID(), "the same process, never restarted")
	panics := metricSum(t, d, "rolloutd_reconcile_panics_total")
	// Backoff doubles from 5 ms: a hot loop would count thousands in this time.
	assert.Less(t, panics, 100.0, "the panicking key is retried with backoff")
	log, err := os.ReadFile(d.LogPath())
	require.NoError(t, err)
	assert.Contains(t, string(log), "reconcile panicked")
	assert.True(t, strings.Contains(string(log), "controller.(*Controller).Sync") || strings.Contains(string(log), "controller.(*Controller).syncRecovered"),
		"the log carries the stack")
}
