package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func TestRetryRestartsARolledBackRevision(t *testing.T) {
	w := newWorld(t, mustSpec(t, "rolloutd.io/threshold", "0"))
	w.startRollout("c1")
	w.after(time.Minute)
	require.Equal(t, contract.RollingBack, w.gate(contract.Fail).Status.Phase)
	require.Equal(t, contract.RolledBack, w.noCanary().step().Status.Phase)

	d := w.command(contract.Retry).step()
	assert.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, "c1", d.Status.Revision)
	assert.Equal(t, 1, d.Status.Step)
	assert.Empty(t, d.Status.FailedRevision, "a retried revision is no longer marked failed")
	assert.Contains(t, d.Status.Message, "alice")
}

func TestPromoteFullSkipsRemainingStepsOnlyAfterAPassingGate(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.startRollout("c1")

	d := w.command(contract.Promote).fullCommand().step()
	assert.Equal(t, contract.Progressing, d.Status.Phase, "no gate has passed yet: refused")
	require.Len(t, d.Events, 1)
	assert.True(t, d.Events[0].Warning)

	w.passStep()
	d = w.command(contract.Promote).fullCommand().step()
	assert.Equal(t, contract.Promoting, d.Status.Phase)
	assert.Equal(t, int32(10), d.CanaryReplicas, "the canary grows to full size first")
	assert.Less(t, d.Split.CanaryWeight, 100, "traffic moves only once the full canary is Ready")
}

func (w *world) fullCommand() *world { w.in.Command.Full = true; return w }

func TestPromoteFullWithSkipAnalysisIsRecordedAsAWarning(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.startRollout("c1")

	w.in.Command = &contract.Command{Verb: contract.Promote, Full: true, SkipAnalysis: true, By: "alice"}
	d := w.step()
	assert.Equal(t, contract.Promoting, d.Status.Phase, "no passing gate, but the operator skipped the analysis")
	assert.Contains(t, d.Status.Message, "analysis skipped by alice")
	require.NotEmpty(t, d.Events)
	assert.True(t, d.Events[0].Warning, "a promotion without a passing gate is a Warning")
}
