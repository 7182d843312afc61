package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

func mirrorSpec(t *testing.T, kv ...string) contract.Spec {
	return mustSpec(t, append([]string{contract.KeyRouter, "istio", contract.KeyMirror, "20", contract.KeySteps, "10,50"}, kv...)...)
}

func TestMirrorStepComesBeforeTheWeightedSteps(t *testing.T) {
	w := newWorld(t, mirrorSpec(t))
	d := w.template("s2").step()
	require.Equal(t, contract.Progressing, d.Status.Phase)
	w.canary("s2", d.CanaryReplicas).after(5 * time.Second)
	d = w.step()
	assert.True(t, d.Split.AllStable(), "the first decision resizes the canary for the mirrored share")
	assert.Equal(t, int32(2), d.CanaryReplicas)

	w.canary("s2", 2)
	d = w.step()
	require.NotNil(t, d.Status.StepStartedAt)
	assert.Equal(t, traffic.Split{MirrorPercent: 20}, d.Split, "mirror only: no user request is answered by the canary")
	assert.Equal(t, 1, d.Status.Step)
	assert.Equal(t, 3, d.Status.Steps, "the mirror step plus two weighted steps")
	assert.Zero(t, d.Status.Weight)
	assert.Contains(t, d.Status.Message, "20% of requests mirrored")

	d = w.after(time.Minute).gate(contract.Pass)
	assert.Contains(t, d.Events[0].Message, "mirror gate passed (step 1/3)")
	require.Equal(t, 2, d.Status.Step)
	assert.Equal(t, traffic.Split{CanaryWeight: 10}, d.Split, "the first weighted step, mirror off")
	d = w.passStep()
	assert.Equal(t, traffic.Split{CanaryWeight: 50}, d.Split)
	d = w.passStep()
	assert.Equal(t, contract.Promoting, d.Status.Phase)
}

func TestMirrorNeverSendsUserTrafficToABadCanary(t *testing.T) {
	w := newWorld(t, mirrorSpec(t, contract.KeyThreshold, "1"))
	w.template("s2").step()
	w.canary("s2", 2).after(5 * time.Second)
	d := w.step()
	require.Equal(t, traffic.Split{MirrorPercent: 20}, d.Split)
	for d.Status.Phase == contract.Progressing {
		assert.Zero(t, d.Split.CanaryWeight)
		d = w.after(time.Minute).gate(contract.Fail)
	}
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.True(t, d.Split.AllStable(), "the rollback stops the mirror too")
	assert.Equal(t, 2, d.Status.Failures)
}

func TestMirrorIsOnlyAPartOfTheCanaryStrategy(t *testing.T) {
	w := newWorld(t, abSpec(t, contract.KeyRouter, "istio", contract.KeyMirror, "20"))
	d := w.startRollout("s2")
	assert.Zero(t, d.Split.MirrorPercent, "abtest has no mirror step")
	assert.Equal(t, 3, d.Status.Steps)
}

func TestStickyMarksOnlyWeightedCanarySplits(t *testing.T) {
	w := newWorld(t, mustSpec(t, contract.KeyRouter, "istio", contract.KeySticky, "true", contract.KeySteps, "10,50"))
	d := w.template("s2").step()
	assert.Equal(t, traffic.Split{}, d.Split, "no weight before the pods are Ready, so nothing sticky")
	w.canary("s2", d.CanaryReplicas).after(5 * time.Second)
	d = w.step()
	assert.Equal(t, traffic.Split{CanaryWeight: 10, Sticky: true}, d.Split)
	d = w.passStep()
	assert.Equal(t, traffic.Split{CanaryWeight: 50, Sticky: true}, d.Split)
	w.after(time.Minute)
	d = w.gate(contract.Pass)
	require.Equal(t, contract.Promoting, d.Status.Phase)
	w.canary("s2", 10)
	d = w.step()
	assert.Equal(t, traffic.Split{CanaryWeight: 100}, d.Split, "the promotion's full-size canary is not sticky")
}

func TestUndoFastCanarySkipsTheMirrorStep(t *testing.T) {
	w := newWorld(t, mirrorSpec(t))
	d := w.undoTo("s0", "s0", false).step()
	require.Equal(t, contract.Progressing, d.Status.Phase)
	w.template("s0").canary("s0", d.CanaryReplicas).after(5 * time.Second)
	d = w.step()
	assert.Equal(t, traffic.Split{CanaryWeight: 50}, d.Split, "straight to the last weight, no mirror")
	assert.Equal(t, 1, d.Status.Steps)
}
