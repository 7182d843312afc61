package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// blueGreenSpec is a blue/green release through nginx with extra annotations.
func blueGreenSpec(t *testing.T, kv ...string) contract.Spec {
	return mustSpec(t, append([]string{contract.KeyStrategy, "bluegreen", contract.KeyRouter, "nginx"}, kv...)...)
}

// checks builds a gate result from name/verdict pairs.
func checks(kv ...any) analysis.Result {
	var cs []contract.CheckResult
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1].(contract.Verdict)
		c := contract.CheckResult{Name: kv[i].(string), Verdict: v}
		if v != contract.Pass {
			c.Reason = "not enough traffic on the canary (0 requests)"
		}
		cs = append(cs, c)
	}
	return analysis.Combine(cs)
}

// preSwitchGate is what a healthy canary without user traffic yields: request
// checks inconclusive, resource checks passing.
func preSwitchGate() analysis.Result {
	return checks("error-rate", contract.Inconclusive, "cpu", contract.Pass, "memory", contract.Pass, "load", contract.Pass)
}

// gateWith evaluates a due gate with result r.
func (w *world) gateWith(r analysis.Result) Decision {
	w.t.Helper()
	require.True(w.t, GateDue(w.in), "gate evaluated before it was due (status %+v)", w.in.Status)
	w.in.Gate = &r
	return w.step()
}

// readyFullSize starts a blue/green rollout of rev and makes the full-size canary
// Ready, returning the decision that opened the analysis window before the switch.
func (w *world) readyFullSize(rev string) Decision {
	w.t.Helper()
	d := w.template(rev).step()
	require.Equal(w.t, contract.Progressing, d.Status.Phase)
	w.canary(rev, d.CanaryReplicas).after(5 * time.Second)
	d = w.step()
	require.NotNil(w.t, d.Status.StepStartedAt)
	return d
}

// switched runs a blue/green rollout of rev up to the switch.
func (w *world) switched(rev string) Decision {
	w.t.Helper()
	w.readyFullSize(rev)
	w.after(w.in.Spec.Interval)
	d := w.gateWith(preSwitchGate())
	require.Equal(w.t, contract.PendingConfirmation, d.Status.Phase, d.Status.Message)
	return d
}

func TestBlueGreenBringsTheCanaryUpAtFullSizeWithoutTraffic(t *testing.T) {
	w := newWorld(t, blueGreenSpec(t))
	d := w.template("g1").step()
	assert.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, int32(10), d.CanaryReplicas, "full size from the start")
	assert.Equal(t, traffic.Split{}, d.Split)
	assert.Equal(t, 1, d.Status.Step)
	assert.Equal(t, 2, d.Status.Steps)

	d = w.canary("g1", 9).after(5 * time.Second).step()
	assert.Nil(t, d.Status.StepStartedAt, "the window opens only when every pod is Ready")
	assert.Equal(t, PollInterval, d.RequeueAfter)

	d = w.canary("g1", 10).step()
	require.NotNil(t, d.Status.StepStartedAt)
	assert.Equal(t, 0, d.Status.Weight)
	assert.Equal(t, traffic.Split{}, d.Split, "no user traffic before the switch")
	assert.Equal(t, w.in.Spec.Interval, d.RequeueAfter)
	assert.False(t, GateDue(w.in))
	assert.Zero(t, GateBaselineOffset(w.in), "before the switch both sides are measured over the same window")
}

func TestBlueGreenGoodReleaseWithManualConfirmation(t *testing.T) {
	w := newWorld(t, blueGreenSpec(t))
	d := w.switched("g1")
	assert.Equal(t, traffic.Split{CanaryWeight: 100}, d.Split, "all traffic at once")
	assert.Equal(t, 100, d.Status.Weight)
	assert.Equal(t, 2, d.Status.Step)
	assert.Equal(t, int32(10), d.CanaryReplicas)
	assert.Equal(t, KeepPaused, d.Stable, "the old pods stay for a switch back")
	require.NotNil(t, d.Status.SwitchedAt)
	assert.Equal(t, []string{contract.ReasonGatePassed, contract.ReasonSwitched}, reasons(d.Events))
	assert.Contains(t, d.Status.Message, "rolloutctl confirm web")

	w.after(time.Minute)
	assert.Equal(t, time.Minute, GateBaselineOffset(w.in), "the stable is measured before the switch")
	d = w.gateWith(checks("error-rate", contract.Pass, "cpu", contract.Pass))
	assert.Equal(t, contract.PendingConfirmation, d.Status.Phase, "manual: a passing gate keeps waiting")
	assert.Equal(t, traffic.Split{CanaryWeight: 100}, d.Split)
	assert.Equal(t, 2*time.Minute, GateBaselineOffset(w.after(time.Minute).in), "offset from the switch, not the window")

	d = w.command(contract.Confirm).step()
	assert.Equal(t, contract.Promoting, d.Status.Phase)
	assert.Equal(t, contract.ReasonConfirmed, d.Status.Reason)
	assert.Contains(t, d.Status.Message, "alice")
	assert.Equal(t, Resume, d.Stable, "the stable rolls out the vetted template")
	assert.Equal(t, traffic.Split{CanaryWeight: 100}, d.Split, "the canary keeps all traffic while the stable rolls")
	assert.Equal(t, int32(10), d.CanaryReplicas)

	w.in.Stable.Running, w.in.Stable.RolledOut = "g1", true
	d = w.step()
	assert.Equal(t, contract.Succeeded, d.Status.Phase)
	assert.Equal(t, int32(0), d.CanaryReplicas)
	assert.Equal(t, traffic.Split{}, d.Split)
}

func TestBlueGreenAutoConfirmsAfterOnePassingInterval(t *testing.T) {
	w := newWorld(t, blueGreenSpec(t, contract.KeyConfirm, "auto"))
	d := w.switched("g1")
	assert.Contains(t, d.Status.Message, "confirms itself")

	w.after(30 * time.Second)
	assert.Equal(t, contract.PendingConfirmation, w.step().Status.Phase, "not before the interval")
	w.after(30 * time.Second)
	d = w.gateWith(checks("error-rate", contract.Pass, "cpu", contract.Pass))
	assert.Equal(t, contract.Promoting, d.Status.Phase)
	assert.Equal(t, Resume, d.Stable)
	assert.Equal(t, traffic.Split{CanaryWeight: 100}, d.Split)
}

func TestBlueGreenAutoDoesNotConfirmAnInconclusiveGate(t *testing.T) {
	w := newWorld(t, blueGreenSpec(t, contract.KeyConfirm, "auto"))
	w.switched("g1")
	w.after(time.Minute)
	d := w.gateWith(checks("error-rate", contract.Inconclusive, "cpu", contract.Pass))
	assert.Equal(t, contract.PendingConfirmation, d.Status.Phase)
	assert.Equal(t, contract.ReasonInconclusive, d.Status.Reason)
	assert.Equal(t, traffic.Split{CanaryWeight: 100}, d.Split)
}

func TestBlueGreenFailingBeforeTheSwitchNeverMovesTraffic(t *testing.T) {
	w := newWorld(t, blueGreenSpec(t, contract.KeyThreshold, "0"))
	w.readyFullSize("g1")
	w.after(time.Minute)
	d := w.gateWith(checks("error-rate", contract.Inconclusive, "cpu", contract.Fail))
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, traffic.Split{}, d.Split)
	assert.Equal(t, int32(0), d.CanaryReplicas)
	assert.Equal(t, "g1", d.Status.FailedRevision)
	assert.Contains(t, d.Status.Message, "before the switch")
	assert.Contains(t, d.Status.Message, "cpu")
	assert.NotContains(t, d.Status.Message, "error-rate", "an unjudged request check is not blamed")

	d = w.noCanary().step()
	assert.Equal(t, contract.RolledBack, d.Status.Phase)
}

func TestBlueGreenFailingAfterTheSwitchSwitchesBackInOneDecision(t *testing.T) {
	w := newWorld(t, blueGreenSpec(t, contract.KeyThreshold, "0"))
	w.switched("g1")
	w.after(time.Minute)
	d := w.gateWith(checks("error-rate", contract.Fail, "cpu", contract.Pass))
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, traffic.Split{}, d.Split, "all traffic back to the stable at once")
	assert.Equal(t, 0, d.Status.Weight)
	assert.Equal(t, int32(0), d.CanaryReplicas)
	assert.True(t, d.ReducesExposure(w.prev), "persisted before it is applied")
	assert.Contains(t, d.Status.Message, "after the switch")
	assert.Equal(t, KeepPaused, d.Stable, "the stable pods were never touched")

	assert.Equal(t, contract.RolledBack, w.noCanary().step().Status.Phase)
}

func TestBlueGreenToleratesFailuresUpToTheThresholdAtFullTraffic(t *testing.T) {
	w := newWorld(t, blueGreenSpec(t, contract.KeyThreshold, "1"))
	w.switched("g1")
	w.after(time.Minute)
	d := w.gateWith(checks("error-rate", contract.Fail))
	assert.Equal(t, contract.PendingConfirmation, d.Status.Phase)
	assert.Equal(t, contract.ReasonGateFailed, d.Status.Reason)
	assert.Equal(t, traffic.Split{CanaryWeight: 100}, d.Split)
	w.after(time.Minute)
	assert.Equal(t, contract.RollingBack, w.gateWith(checks("error-rate", contract.Fail)).Status.Phase)
}

func TestBlueGreenAbortInPendingConfirmationSwitchesBack(t *testing.T) {
	w := newWorld(t, blueGreenSpec(t))
	w.switched("g1")
	d := w.after(10 * time.Second).command(contract.Abort).step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, traffic.Split{}, d.Split)
	assert.Equal(t, int32(0), d.CanaryReplicas)
	assert.True(t, d.ReducesExposure(w.prev))
	assert.Equal(t, contract.Aborted, w.noCanary().step().Status.Phase)
}

func TestBlueGreenTemplateChangeRestartsBeforeTheSwitch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reach func(w *world)
	}{
		{"while analysing before the switch", func(w *world) { w.readyFullSize("g1") }},
		{"in PendingConfirmation", func(w *world) { w.switched("g1") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, blueGreenSpec(t))
			tc.reach(w)
			d := w.after(10 * time.Second).template("g2").step()
			assert.Equal(t, contract.Progressing, d.Status.Phase)
			assert.Equal(t, "g2", d.Status.Revision)
			assert.Equal(t, 1, d.Status.Step)
			assert.Equal(t, traffic.Split{}, d.Split, "traffic leaves the replaced canary")
			assert.Equal(t, int32(10), d.CanaryReplicas)
			assert.Nil(t, d.Status.SwitchedAt)
			assert.Nil(t, d.Status.StepStartedAt)
		})
	}
}

func TestBlueGreenPreSwitchGate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kv    []string
		gate  analysis.Result
		phase contract.Phase
		split traffic.Split
	}{
		{"request checks without traffic are left to after the switch", nil, preSwitchGate(),
			contract.PendingConfirmation, traffic.Split{CanaryWeight: 100}},
		{"only request checks: switch on readiness", []string{contract.KeyChecks, "error-rate<=1%+baseline,latency-p99<=1.2x"},
			checks("error-rate", contract.Inconclusive, "latency-p99", contract.Inconclusive),
			contract.PendingConfirmation, traffic.Split{CanaryWeight: 100}},
		{"an inconclusive resource check holds", nil,
			checks("error-rate", contract.Inconclusive, "cpu", contract.Inconclusive),
			contract.Progressing, traffic.Split{}},
		{"a custom check without data is judged", []string{contract.KeyChecks, "cpu<=1.3x"},
			checks("cpu", contract.Pass, "queue-depth", contract.Inconclusive),
			contract.Progressing, traffic.Split{}},
		{"with an Istio mirror the request checks judge", []string{contract.KeyRouter, "istio", contract.KeyMirror, "20"},
			preSwitchGate(), contract.Progressing, traffic.Split{MirrorPercent: 20}},
		{"with an Istio mirror a passing gate switches", []string{contract.KeyRouter, "istio", contract.KeyMirror, "20"},
			checks("error-rate", contract.Pass, "cpu", contract.Pass),
			contract.PendingConfirmation, traffic.Split{CanaryWeight: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, blueGreenSpec(t, tc.kv...))
			d := w.readyFullSize("g1")
			assert.Equal(t, mirrorPercent(w.in.Spec), d.Split.MirrorPercent, "the mirror runs during the window")
			w.after(time.Minute)
			d = w.gateWith(tc.gate)
			assert.Equal(t, tc.phase, d.Status.Phase, d.Status.Message)
			if tc.phase == contract.Progressing {
				// Held: the same split, no user traffic.
				assert.Equal(t, tc.split.MirrorPercent, d.Split.MirrorPercent)
				assert.Zero(t, d.Split.CanaryWeight)
				return
			}
			assert.Equal(t, tc.split, d.Split, "the mirror stops when users are switched")
		})
	}
}

func TestBlueGreenCanaryNotReadyAtFullSizeRollsBack(t *testing.T) {
	w := newWorld(t, blueGreenSpec(t))
	w.template("g1").step()
	d := w.canary("g1", 4).after(11 * time.Minute).step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, contract.ReasonNotReady, d.Status.Reason)
	assert.Equal(t, traffic.Split{}, d.Split)
}

func TestBlueGreenIgnoresStepVerbsWithAWarning(t *testing.T) {
	for _, v := range []contract.Verb{contract.Pause, contract.Promote, contract.Resume} {
		t.Run(string(v), func(t *testing.T) {
			w := newWorld(t, blueGreenSpec(t))
			w.switched("g1")
			before := w.in.Status
			d := w.after(time.Second).command(v).step()
			assert.Equal(t, before, d.Status)
			require.Len(t, d.Events, 1)
			assert.True(t, d.Events[0].Warning)
			assert.Equal(t, contract.ReasonUnsupported, d.Events[0].Reason)
			assert.Contains(t, d.Events[0].Message, "rolloutctl confirm web")
		})
	}
}

func TestConfirmBeforeTheSwitchIsIgnored(t *testing.T) {
	w := newWorld(t, blueGreenSpec(t))
	w.readyFullSize("g1")
	d := w.after(time.Second).command(contract.Confirm).step()
	assert.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, traffic.Split{}, d.Split)
	require.Len(t, d.Events, 1)
	assert.Equal(t, contract.ReasonUnsupported, d.Events[0].Reason)
}

func TestUndoOfABlueGreenDeploymentRunsTheFastCanary(t *testing.T) {
	w := newWorld(t, blueGreenSpec(t))
	d := w.undoTo("s0", "s0", false).step()
	require.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Equal(t, 1, d.Status.Steps, "the undo's one step, not blue/green's two")
	assert.Equal(t, int32(5), d.CanaryReplicas, "sized for the last step's 50%")

	w.template("s0").canary("s0", 5).after(5 * time.Second)
	d = w.step()
	assert.Equal(t, 50, d.Status.Weight, "a canary step, not a switch")
	assert.Equal(t, traffic.Split{CanaryWeight: 50}, d.Split)
}
