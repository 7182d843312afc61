package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/internal/spec"
	"github.com/rolloutd/rolloutd/internal/status"
	"github.com/rolloutd/rolloutd/traffic"
)

func abSpec(t *testing.T, kv ...string) spec.Spec {
	return mustSpec(t, append([]string{spec.KeyStrategy, "abtest", spec.KeyRouter, "nginx",
		spec.KeyMatch, "header:x-canary=always", spec.KeySteps, "10,20,30", spec.KeyInterval, "1m"}, kv...)...)
}

var xCanary = &traffic.Match{Kind: traffic.MatchHeader, Name: "x-canary", Value: "always"}

func TestABTestSendsOnlyMatchingRequestsForEveryStepThenPromotes(t *testing.T) {
	w := newWorld(t, abSpec(t))
	d := w.template("s2").step()
	require.Equal(t, status.Progressing, d.Status.Phase)
	assert.True(t, d.Split.AllStable(), "no request reaches canary pods that are not Ready")
	assert.Equal(t, int32(1), d.CanaryReplicas)

	w.canary("s2", 1).after(5 * time.Second)
	d = w.step()
	for step := 1; step <= 3; step++ {
		require.Equal(t, status.Progressing, d.Status.Phase, "step %d", step)
		assert.Equal(t, step, d.Status.Step)
		assert.Equal(t, traffic.Split{Match: xCanary}, d.Split, "step %d: match only, no weight", step)
		assert.Zero(t, d.Status.Weight)
		assert.Equal(t, int32(1), d.CanaryReplicas, "the canary keeps the first step's size")
		assert.Contains(t, d.Status.Message, "header:x-canary=always")
		assert.NotContains(t, d.Status.Message, "% of traffic")
		d = w.after(time.Minute).gate(analysis.Pass)
	}
	require.Equal(t, status.Promoting, d.Status.Phase)
	assert.Equal(t, xCanary, d.Split.Match, "matched requests stay on the canary while it scales up")
	assert.Equal(t, int32(10), d.CanaryReplicas)

	w.canary("s2", 10)
	d = w.step()
	assert.Equal(t, 100, d.Split.CanaryWeight, "promotion sends everything to the full-size canary")
	w.in.Stable.Running = "s2"
	d = w.step()
	assert.Equal(t, status.Succeeded, d.Status.Phase)
	assert.True(t, d.Split.AllStable())
}

func TestABTestRollsBackOnFailedGates(t *testing.T) {
	w := newWorld(t, abSpec(t, spec.KeyThreshold, "1"))
	w.startRollout("s2")
	d := w.after(time.Minute).gate(analysis.Fail)
	require.Equal(t, status.Progressing, d.Status.Phase)
	assert.Equal(t, traffic.Split{Match: xCanary}, d.Split, "a tolerated failure keeps the match")
	assert.Contains(t, d.Status.Message, "gate on header:x-canary=always failed (1 of 1 tolerated)")

	d = w.after(time.Minute).gate(analysis.Fail)
	require.Equal(t, status.RollingBack, d.Status.Phase)
	assert.True(t, d.Split.AllStable())
	assert.Zero(t, d.CanaryReplicas)
	assert.Equal(t, "s2", d.Status.FailedRevision)
}

func TestABTestPausesOnlyForPauseAtStar(t *testing.T) {
	cases := []struct {
		pauseAt string
		want    status.Phase
	}{
		{"10", status.Progressing}, // weights are not A/B steps
		{"*", status.Paused},
	}
	for _, tc := range cases {
		t.Run(tc.pauseAt, func(t *testing.T) {
			w := newWorld(t, abSpec(t, spec.KeyPauseAt, tc.pauseAt))
			w.startRollout("s2")
			d := w.after(time.Minute).gate(analysis.Pass)
			assert.Equal(t, tc.want, d.Status.Phase)
			assert.Equal(t, traffic.Split{Match: xCanary}, d.Split, "a pause holds the match")
		})
	}
}

func TestABTestCarriesStickyAndCookieMatches(t *testing.T) {
	w := newWorld(t, abSpec(t, spec.KeyMatch, "cookie:canary", spec.KeySticky, "true"))
	d := w.startRollout("s2")
	assert.Equal(t, traffic.Split{Match: &traffic.Match{Kind: traffic.MatchCookie, Name: "canary"}, Sticky: true}, d.Split)
	assert.Contains(t, d.Status.Message, "cookie:canary")
}
