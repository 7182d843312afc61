package strategy

import (
	"fmt"
	"time"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// Blue/green runs two steps: 1 analyses the full-size canary without user traffic,
// 2 holds all traffic on it until the switch is confirmed.
const (
	blueGreenSteps    = 2
	blueGreenSwitched = 2
)

// blueGreenRelease reports whether the rollout runs blue/green. An undo never
// does: it runs its fast canary (or --now restore) whatever the strategy.
func blueGreenRelease(in Input) bool {
	return in.Spec.Strategy == contract.BlueGreen && in.Status.Undo == nil && !isUndo(in)
}

// firstStep returns the number of steps and the canary size a new rollout starts
// with: blue/green brings the canary up at full size at once.
func firstStep(in Input) (steps int, replicas int32) {
	if blueGreenRelease(in) {
		return blueGreenSteps, fullSize(in)
	}
	return len(in.Spec.Steps), traffic.CanaryReplicas(in.Stable.Desired, in.Spec.Steps[0])
}

func fullSize(in Input) int32 { return max(in.Stable.Desired, 1) }

// GateBaselineOffset is how far back a gate measures the stable pods: after a
// blue/green switch they serve no traffic, so their figures are read from the same
// length of window ending at the switch. Zero for every other gate.
func GateBaselineOffset(in Input) time.Duration {
	st := in.Status
	if st.Phase != contract.PendingConfirmation || st.SwitchedAt == nil {
		return 0
	}
	return in.Now.Sub(*st.SwitchedAt)
}

// blueGreen runs a blue/green rollout: the canary at full size is analysed with no
// user traffic (mirrored traffic with Istio) for one interval, then takes all
// traffic in one write and waits in PendingConfirmation, analysed every interval,
// until it is confirmed (promotion) or fails (all traffic back to the stable pods,
// which were never touched, in one write).
func blueGreen(in Input) Decision {
	st := in.Status
	d := Decision{Status: st, CanaryReplicas: fullSize(in), Split: blueGreenSplit(in)}
	if c := in.Command; c != nil && (c.Verb != contract.Confirm || st.Phase != contract.PendingConfirmation) {
		d.Events = []Event{{Warning: true, Reason: contract.ReasonUnsupported, Message: fmt.Sprintf(
			"%s by %s ignored: a blue/green rollout runs by itself until the switch, then waits in PendingConfirmation for `rolloutctl confirm %s` (or `rolloutctl abort %s`)",
			c.Verb, orUnknown(c.By), in.Name, in.Name)}}
	}
	if st.Phase == contract.PendingConfirmation {
		return pendingConfirmation(in, d)
	}
	d.Status.Phase, d.Status.Step, d.Status.Steps, d.Status.Weight = contract.Progressing, 1, blueGreenSteps, 0
	if st.StepStartedAt == nil {
		return awaitFullSize(in, d)
	}
	if in.Gate == nil || !GateDue(in) {
		d.RequeueAfter = max(st.StepStartedAt.Add(in.Spec.Interval).Sub(in.Now), time.Millisecond)
		return d
	}
	judged := preSwitchResult(in.Spec, *in.Gate)
	if judged.Verdict != contract.Pass {
		return setback(in, d, "before the switch", judged)
	}
	return switchOver(in, d, judged)
}

// blueGreenSplit is the traffic of the current phase: none before the switch
// (except an Istio mirror copy), all of it after.
func blueGreenSplit(in Input) traffic.Split {
	if in.Status.Phase == contract.PendingConfirmation {
		return traffic.Split{CanaryWeight: 100}
	}
	return traffic.Split{MirrorPercent: mirrorPercent(in.Spec)}
}

func mirrorPercent(sp contract.Spec) int {
	if sp.Router != contract.RouterIstio {
		return 0
	}
	return sp.MirrorPercent
}

// awaitFullSize waits until every canary pod is Ready, then starts the analysis
// window before the switch.
func awaitFullSize(in Input, d Decision) Decision {
	if !canaryReady(in, d.CanaryReplicas) {
		if readyTimedOut(in) {
			return rollback(in, contract.ReasonNotReady, fmt.Sprintf("canary not Ready at full size within %s (%d of %d Ready)",
				in.ReadyTimeout, in.Canary.Ready, d.CanaryReplicas))
		}
		d.RequeueAfter = PollInterval
		return d
	}
	now := in.Now
	st := d.Status
	st.StepStartedAt, st.Reason = &now, contract.ReasonStepAdvanced
	st.Message = fmt.Sprintf("step 1/2: canary at full size (%d pods) with no user traffic; analysed for %s before the switch",
		d.CanaryReplicas, in.Spec.Interval)
	if m := d.Split.MirrorPercent; m > 0 {
		st.Message = fmt.Sprintf("step 1/2: canary at full size (%d pods) receives a %d%% mirror of requests; analysed for %s before the switch",
			d.CanaryReplicas, m, in.Spec.Interval)
	}
	d.Status, d.RequeueAfter = st, in.Spec.Interval
	d.Events = append(d.Events, Event{Reason: contract.ReasonStepAdvanced, Message: st.Message})
	return d
}

// preSwitchResult judges a gate taken while the canary had no user traffic:
// request checks (error rate, latency) without canary requests are not judged —
// they judge after the switch — unless Istio mirrored requests to the canary. A
// gate whose every check is such a request check passes on readiness alone.
func preSwitchResult(sp contract.Spec, r analysis.Result) analysis.Result {
	if mirrorPercent(sp) > 0 {
		return r
	}
	request := map[string]bool{}
	for _, c := range sp.Checks {
		if c.Custom == nil && (c.Metric == contract.MetricErrorRate || c.Metric == contract.MetricLatency) {
			request[c.Name()] = true
		}
	}
	var judged []contract.CheckResult
	for _, c := range r.Checks {
		if !(request[c.Name] && c.Verdict == contract.Inconclusive) {
			judged = append(judged, c)
		}
	}
	if len(judged) == 0 {
		return analysis.Result{Verdict: contract.Pass}
	}
	return analysis.Combine(judged)
}

// switchOver moves all traffic to the canary in one write and waits for
// confirmation; the stable pods stay as they are for an instant switch back.
func switchOver(in Input, d Decision, judged analysis.Result) Decision {
	now := in.Now
	st := transition(d.Status, now, contract.PendingConfirmation, contract.ReasonSwitched, "")
	st.Checks, st.Inconclusive = in.Gate.Checks, 0
	st.Step, st.Weight = blueGreenSwitched, 100
	st.StepStartedAt, st.SwitchedAt = &now, &now
	judgedNote := ""
	if len(judged.Checks) == 0 {
		judgedNote = " (no check could judge without traffic)"
	}
	st.Message = fmt.Sprintf("all traffic switched to revision %s; the old pods stay for an instant switch back; %s",
		st.Revision, confirmHint(in))
	d.Status, d.Split = st, traffic.Split{CanaryWeight: 100}
	d.RequeueAfter = in.Spec.Interval
	d.Events = append(d.Events,
		Event{Reason: contract.ReasonGatePassed, Message: "gate before the switch passed" + judgedNote},
		Event{Reason: contract.ReasonSwitched, Message: st.Message})
	return d
}

func confirmHint(in Input) string {
	if in.Spec.ConfirmManual {
		return fmt.Sprintf("run `rolloutctl confirm %s` to promote", in.Name)
	}
	return fmt.Sprintf("confirms itself after %s of passing analysis", in.Spec.Interval)
}

// pendingConfirmation holds all traffic on the canary: a confirm command (or, with
// confirm auto, a passing gate) promotes; a failing gate switches back.
func pendingConfirmation(in Input, d Decision) Decision {
	st := d.Status
	if c := in.Command; c != nil && c.Verb == contract.Confirm {
		return confirm(in, d, "switch confirmed by "+orUnknown(c.By))
	}
	if in.Gate == nil || !GateDue(in) {
		if st.StepStartedAt != nil {
			d.RequeueAfter = max(st.StepStartedAt.Add(in.Spec.Interval).Sub(in.Now), time.Millisecond)
		}
		return d
	}
	r := *in.Gate
	if r.Verdict != contract.Pass {
		return setback(in, d, "after the switch", r)
	}
	now := in.Now
	st.Checks, st.Inconclusive = r.Checks, 0
	d.Status = st
	if !in.Spec.ConfirmManual {
		return confirm(in, d, fmt.Sprintf("switch confirmed automatically after %s of passing analysis", in.Spec.Interval))
	}
	st.StepStartedAt = &now
	st.Reason = contract.ReasonGatePassed
	st.Message = fmt.Sprintf("all traffic on revision %s, gate passed; %s", st.Revision, confirmHint(in))
	d.Status, d.RequeueAfter = st, in.Spec.Interval
	d.Events = append(d.Events, Event{Reason: contract.ReasonGatePassed, Message: "gate after the switch passed; waiting for confirmation"})
	return d
}

// confirm starts the promotion: the canary keeps all traffic while the stable
// Deployment rolls out the vetted template (see promote).
func confirm(in Input, d Decision, msg string) Decision {
	now := in.Now
	st := transition(d.Status, now, contract.Promoting, contract.ReasonConfirmed, msg+"; promoting revision "+d.Status.Revision)
	st.ScaledAt, st.StepStartedAt = &now, nil
	in.Status = st
	p := promote(in)
	p.Events = append(append(d.Events, Event{Reason: contract.ReasonConfirmed, Message: st.Message}), p.Events...)
	return p
}

// setback records a gate that did not pass: an inconclusive one holds (every
// InconclusiveLimit-th in a row counts as failed); failures beyond the threshold
// roll back, which after the switch moves all traffic back in one write.
func setback(in Input, d Decision, when string, r analysis.Result) Decision {
	now := in.Now
	st := d.Status
	st.Checks = in.Gate.Checks
	if r.Verdict == contract.Inconclusive {
		st.Inconclusive++
		if st.Inconclusive < InconclusiveLimit {
			st.StepStartedAt, st.Reason = &now, contract.ReasonInconclusive
			st.Message = fmt.Sprintf("gate %s inconclusive (%d of %d allowed): %s",
				when, st.Inconclusive, InconclusiveLimit-1, failedSummary(&r))
			d.Status, d.RequeueAfter = st, in.Spec.Interval
			d.Events = append(d.Events, Event{Warning: true, Reason: contract.ReasonInconclusive, Message: st.Message})
			return d
		}
		st.Inconclusive = 0
	}
	st.Failures++
	if st.Failures > in.Spec.Threshold {
		in.Status = st
		return rollback(in, contract.ReasonGateFailed, fmt.Sprintf("gate %s failed %d times: %s", when, st.Failures, failedSummary(&r)))
	}
	st.StepStartedAt, st.Reason = &now, contract.ReasonGateFailed
	st.Message = fmt.Sprintf("gate %s failed (%d of %d tolerated): %s", when, st.Failures, in.Spec.Threshold, failedSummary(&r))
	d.Status, d.RequeueAfter = st, in.Spec.Interval
	d.Events = append(d.Events, Event{Warning: true, Reason: contract.ReasonGateFailed, Message: st.Message})
	return d
}
