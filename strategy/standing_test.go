package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// judged is a standing at tick at whose one check has verdict v.
func judged(at time.Time, v contract.Verdict, reason string) *analysis.Sequential {
	c := contract.CheckResult{Name: "error-rate", Verdict: v, Reason: reason}
	return &analysis.Sequential{Verdict: v, At: at, Checks: []contract.CheckResult{c}, StepChecks: []contract.CheckResult{c}}
}

// While a step holds its weight, the status shows the continuous judge's
// standing: at once when none is shown or a verdict changed, otherwise once it
// is a refresh newer, the rollout requeued for that; it is gone once the
// rollout leaves its steps, and never written with a zero refresh.
func TestStatusShowsTheStandingWhileAStepHolds(t *testing.T) {
	w := newWorld(t, mustSpec(t, "rolloutd.io/interval", "5m"))
	w.in.StandingRefresh = 30 * time.Second
	w.startRollout("c1")

	w.after(10 * time.Second).in.Sequential = judged(w.in.Now, contract.Inconclusive, "from 100 requests")
	d := w.step()
	require.NotNil(t, d.Status.Standing, "the first standing is shown at once")
	assert.Equal(t, w.in.Now, d.Status.Standing.At)
	assert.Equal(t, "from 100 requests", d.Status.Standing.Checks[0].Reason)
	assert.Equal(t, 30*time.Second, d.RequeueAfter, "requeued for the next refresh")

	w.after(10 * time.Second).in.Sequential = judged(w.in.Now, contract.Inconclusive, "from 200 requests")
	d = w.step()
	assert.Equal(t, "from 100 requests", d.Status.Standing.Checks[0].Reason, "10s newer, same verdicts: not written")
	assert.Equal(t, 20*time.Second, d.RequeueAfter, "requeued for when the shown one is a refresh old")

	w.after(5 * time.Second).in.Sequential = judged(w.in.Now, contract.Pass, "within its limit from 250 requests")
	d = w.step()
	assert.Equal(t, "within its limit from 250 requests", d.Status.Standing.Checks[0].Reason, "a verdict changed: written at once")

	w.after(30 * time.Second).in.Sequential = judged(w.in.Now, contract.Pass, "within its limit from 550 requests")
	d = w.step()
	assert.Equal(t, "within its limit from 550 requests", d.Status.Standing.Checks[0].Reason, "a refresh newer: written")

	w.after(time.Second).in.Sequential = judged(w.in.Now, contract.Fail, "error rate above its limit")
	d = w.step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Nil(t, d.Status.Standing, "cleared once the rollout leaves its steps")
}

func TestStandingIsNeverWrittenWithoutARefresh(t *testing.T) {
	w := newWorld(t, mustSpec(t, "rolloutd.io/interval", "5m"))
	w.startRollout("c1")
	w.after(10 * time.Second).in.Sequential = judged(w.in.Now, contract.Inconclusive, "from 100 requests")
	d := w.step()
	assert.Nil(t, d.Status.Standing)
	assert.Equal(t, 4*time.Minute+50*time.Second, d.RequeueAfter, "requeued for the gate only")
}
