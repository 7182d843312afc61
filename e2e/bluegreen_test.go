//go:build e2e

package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// blueGreenApp is a 3-replica app behind an Ingress released blue/green.
func blueGreenApp(name string, kv ...string) app {
	ann := map[string]string{"rolloutd.io/strategy": "bluegreen"}
	for i := 0; i+1 < len(kv); i += 2 {
		ann[kv[i]] = kv[i+1]
	}
	return app{name: name, replicas: 3, router: "nginx", rps: 200, annotations: ann}
}

// requireAllOrNothing checks that the canary Ingress only ever carried weight 0 or
// 100 (or was deleted): user traffic was never split.
func requireAllOrNothing(t *testing.T, tl *timeline) {
	t.Helper()
	for _, r := range tl.snapshot() {
		if r.kind == "ingress" {
			require.Contains(t, []int{-1, 0, 100}, r.weight, "canary Ingress weights %v", tl.weights())
		}
	}
}

// firstCanarySize is the replica count the canary Deployment was created with.
func firstCanarySize(tl *timeline) int32 {
	for _, r := range tl.snapshot() {
		if r.kind == "canary" {
			return r.pods
		}
	}
	return 0
}

// Given a blue/green Deployment behind an Ingress, when a healthy version is
// released, then the canary comes up at full size without traffic, takes all
// traffic in one write while the old pods stay, waits for confirmation, and after
// `rolloutctl confirm` is promoted: the stable runs the new template, the old pods are gone.
func TestBlueGreenNginxGoodReleaseIsConfirmedAndPromoted(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := blueGreenApp("blue")
	a.create(t, env.Kube, ns)
	before := stablePods(t, env.Kube, ns, a.name)
	tl := watchTimeline(t, env.Kube, ns, a.name)

	release(t, env.Kube, ns, a.name, "example.com/blue:v2", nil)

	st := waitPhase(t, env.Kube, ns, a.name, rolloutTimeout, contract.PendingConfirmation, contract.RolledBack)
	require.Equal(t, contract.PendingConfirmation, st.Phase, "message: %s", st.Message)
	assert.Equal(t, 100, st.Weight)
	assert.Equal(t, a.replicas, firstCanarySize(tl), "the canary is created at full size")
	assert.Equal(t, []int{0, 100}, tl.weights(), "no traffic while analysed, then all of it at once")
	assert.Equal(t, before, stablePods(t, env.Kube, ns, a.name), "the old pods stay for a switch back")
	consistently(t, 3*time.Second, "manual confirmation waits", func() error {
		if st, _ := readStatus(t, env.Kube, ns, a.name); st.Phase != contract.PendingConfirmation {
			return fmt.Errorf("phase %s: %s", st.Phase, st.Message)
		}
		return nil
	})

	newOperator(t, env, ns).must("confirm", a.name)

	st = waitPhase(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded, contract.RolledBack)
	require.Equal(t, contract.Succeeded, st.Phase, "message: %s", st.Message)
	assert.Equal(t, []int{0, 100, -1}, tl.weights(), "canary Ingress weights (-1 = deleted)")
	requireAllOrNothing(t, tl)
	framework.Eventually(t, time.Minute, "stable runs v2", func() (bool, error) {
		return runningImage(t, env.Kube, ns, a.name) == "example.com/blue:v2", nil
	})
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	framework.Eventually(t, time.Minute, "old pods gone", func() (bool, error) {
		now := stablePods(t, env.Kube, ns, a.name)
		for _, p := range before {
			if slices.Contains(now, p) {
				return false, fmt.Errorf("old pod %s still there", p)
			}
		}
		return true, nil
	})
	_, d := readStatus(t, env.Kube, ns, a.name)
	assert.NotContains(t, d.Annotations, "rolloutd.io/command", "the confirm command was consumed")
}

// Given a blue/green Deployment behind an Ingress, when a version with 10% errors
// is released, then the gate before the switch cannot see the errors (no user
// traffic) and the switch happens, the first gate after it fails on error-rate and
// all traffic goes back to the untouched stable pods in one write — the canary
// Ingress never carried a weight other than 0 or 100.
func TestBlueGreenNginxBadReleaseSwitchesBack(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := blueGreenApp("green", "rolloutd.io/threshold", "0")
	a.create(t, env.Kube, ns)
	before := stablePods(t, env.Kube, ns, a.name)
	tl := watchTimeline(t, env.Kube, ns, a.name)

	release(t, env.Kube, ns, a.name, "example.com/green:bad", map[string]string{"sim.rolloutd.io/error-rate": "0.1"})

	st := requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.RolledBack)
	assert.Contains(t, st.Message, "after the switch")
	assert.Contains(t, st.Message, "error-rate")
	assert.Contains(t, st.Message, "failed 1 times", "switched back at the first failing gate")
	assert.Equal(t, []int{0, 100, -1}, tl.weights(), "all traffic on, then all traffic off in one write")
	requireAllOrNothing(t, tl)
	requireTrafficLeftFirst(t, tl)
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	assert.Equal(t, before, stablePods(t, env.Kube, ns, a.name), "stable pods were never replaced")
	assert.Equal(t, "example.com/green:v1", runningImage(t, env.Kube, ns, a.name))
	requireNotRetried(t, env, ns, a.name)
}
