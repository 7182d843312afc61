package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

func abSpec(t *testing.T, kv ...string) contract.Spec {
	return mustSpec(t, append([]string{contract.KeyStrategy, "abtest", contract.KeyRouter, "nginx",
		contract.KeyMatch, "header:x-canary=always", contract.KeySteps, "10,20,30", contract.KeyInterval, "1m"}, kv...)...)
}

var xCanary = &traffic.Match{Kind: traffic.MatchHeader, Name: "x-canary", Value: "always"}

func TestABTestSendsOnlyMatchingRequestsForEveryStepThenPromotes(t *testing.T) {
	w := newWorld(t, abSpec(t))
	d := w.template("s2").step()
	require.Equal(t, contract.Progressing, d.Status.Phase)
	assert.True(t, d.Split.AllStable(), "no request reaches canary pods that are not Ready")
	assert.Equal(t, int32(1), d.CanaryReplicas)

	w.canary("s2", 1).after(5 * time.Second)
	d = w.step()
	for step := 1; step <= 3; step++ {
		require.Equal(t, contract.Progressing, d.Status.Phase, "step %d", step)
		assert.Equal(t, step, d.Status.Step)
		assert.Equal(t, traffic.Split{Match: xCanary}, d.Split, "step %d: match only, no weight", step)
		assert.Zero(t, d.Status.Weight)
		assert.Equal(t, int32(1), d.CanaryReplicas, "the canary keeps the first step's size")
		assert.Contains(t, d.Status.Message, "header:x-canary=always")
		assert.NotContains(t, d.Status.Message, "% of traffic")
		d = w.after(time.Minute).gate(contract.Pass)
	}
	require.Equal(t, contract.Promoting, d.Status.Phase)
	assert.Equal(t, xCanary, d.Split.Match, "matched requests stay on the canary while it scales up")
	assert.Equal(t, int32(10), d.CanaryReplicas)

	w.canary("s2", 10)
	d = w.step()
	assert.Equal(t, 100, d.Split.CanaryWeight, "promotion sends everything to the full-size canary")
	w.in.Stable.Running = "s2"
	d = w.step()
	assert.Equal(t, contract.Succeeded, d.Status.Phase)
	assert.True(t, d.Split.AllStable())
}

func TestABTestRollsBackOnFailedGates(t *testing.T) {
	w := newWorld(t, abSpec(t, contract.KeyThreshold, "1"))
	w.startRollout("s2")
	d := w.after(time.Minute).gate(contract.Fail)
	require.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, traffic.Split{Match: xCanary}, d.Split, "a tolerated failure keeps the match")
	assert.Contains(t, d.Status.Message, "gate on header:x-canary=always failed (1 of 1 tolerated)")

	d = w.after(time.Minute).gate(contract.Fail)
	require.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.True(t, d.Split.AllStable())
	assert.Zero(t, d.CanaryReplicas)
	assert.Equal(t, "s2", d.Status.FailedRevision)
}

func TestABTestPausesOnlyForPauseAtStar(t *testing.T) {
	cases := []struct {
		pauseAt string
		want    contract.Phase
	}{
		{"10", contract.Progressing}, // weights are not A/B steps
		{"*", contract.Paused},
	}
	for _, tc := range cases {
		t.Run(tc.pauseAt, func(t *testing.T) {
			w := newWorld(t, abSpec(t, contract.KeyPauseAt, tc.pauseAt))
			w.startRollout("s2")
			d := w.after(time.Minute).gate(contract.Pass)
			assert.Equal(t, tc.want, d.Status.Phase)
			assert.Equal(t, traffic.Split{Match: xCanary}, d.Split, "a pause holds the match")
		})
	}
}

func TestABTestCarriesStickyAndCookieMatches(t *testing.T) {
	w := newWorld(t, abSpec(t, contract.KeyMatch, "cookie:canary", contract.KeySticky, "true"))
	d := w.startRollout("s2")
	assert.Equal(t, traffic.Split{Match: &traffic.Match{Kind: traffic.MatchCookie, Name: "canary"}, Sticky: true}, d.Split)
	assert.Contains(t, d.Status.Message, "cookie:canary")
}
