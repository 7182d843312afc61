package strategy

import (
	"fmt"
	"time"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// GateDue reports whether the current step's analysis window is over, so the
// controller should evaluate a gate and pass its result in Input.Gate.
func GateDue(in Input) bool {
	st := in.Status
	return (st.Phase == contract.Progressing || st.Phase == contract.PendingConfirmation) && st.StepStartedAt != nil &&
		!in.Now.Before(st.StepStartedAt.Add(in.Spec.Interval)) || EarlyGate(in)
}

// EarlyGate reports whether the continuous judge lets the current step end
// before its interval: every sequential check shows the canary within tolerance,
// the step had its minimum exposure, and rolloutd.io/adaptive is not "false".
// The gate then runs the other checks over the step so far and only advances.
func EarlyGate(in Input) bool {
	st, seq := in.Status, in.Sequential
	return in.Spec.Adaptive && st.Phase == contract.Progressing && st.StepStartedAt != nil &&
		in.Now.Before(st.StepStartedAt.Add(in.Spec.Interval)) &&
		seq != nil && seq.Verdict == contract.Pass && seq.Exposed
}

// sequentialFailed reports a check the continuous judge failed: the canary
// loses its traffic at once, without waiting for the gate or counting failures.
func sequentialFailed(in Input) (Decision, bool) {
	seq := in.Sequential
	if seq == nil || seq.Verdict != contract.Fail || in.Status.StepStartedAt == nil {
		return Decision{}, false
	}
	_, w := stepWeight(in)
	in.Status.Checks = seq.Checks
	return rollback(in, contract.ReasonCheckFailed, fmt.Sprintf("at %d%%, %s", w, failedSummary(&analysis.Result{Checks: seq.Checks}))), true
}

// GateWindow is the analysis window of the current step (from traffic reaching the
// step's weight until now).
func GateWindow(in Input) time.Duration {
	if in.Status.StepStartedAt == nil {
		return in.Spec.Interval
	}
	return in.Now.Sub(*in.Status.StepStartedAt)
}

// stepWeight returns the weight of the current step, clamping a step index that a
// shortened steps annotation left out of range.
func stepWeight(in Input) (int, int) {
	steps := in.Spec.Steps
	i := in.Status.Step
	if i < 1 {
		i = 1
	}
	if i > len(steps) {
		i = len(steps)
	}
	return i, steps[i-1]
}

func canaryReady(in Input, want int32) bool {
	return in.Canary.Exists && in.Canary.Revision == in.Status.Revision && in.Canary.Ready >= want
}

// readyTimedOut reports whether the canary has had longer than the progress
// deadline to become Ready since it was last resized.
func readyTimedOut(in Input) bool {
	at := in.Status.ScaledAt
	return at != nil && in.ReadyTimeout > 0 && in.Now.Sub(*at) > in.ReadyTimeout
}

// progress runs one step: bring the canary pods up, then move traffic, then hold
// the weight for an interval and judge the gate.
func progress(in Input) Decision {
	if d, failed := sequentialFailed(in); failed {
		return d
	}
	if in.Status.Phase == contract.Paused {
		return paused(in)
	}
	if in.Command != nil && in.Command.Verb == contract.Pause {
		return pause(in, contract.ReasonPaused, fmt.Sprintf("paused by %s; run `rolloutctl resume %s` to continue", orUnknown(in.Command.By), in.Name))
	}
	if in.Command != nil && in.Command.Verb == contract.Promote && in.Command.Full {
		return promoteFull(in)
	}
	st := in.Status
	step, w := stepWeight(in)
	st.Step, st.Steps = step, len(in.Spec.Steps)
	want := traffic.CanaryReplicas(in.Stable.Desired, w)
	d := Decision{Status: st, CanaryReplicas: want, Split: traffic.Split{CanaryWeight: st.Weight}}
	if st.StepStartedAt == nil {
		return awaitPods(in, d, w, want)
	}
	early := EarlyGate(in)
	if in.Gate == nil || !GateDue(in) || (early && in.Gate.Verdict != contract.Pass) {
		// An early gate only advances; otherwise the step runs its course.
		d.RequeueAfter = st.StepStartedAt.Add(in.Spec.Interval).Sub(in.Now)
		if d.RequeueAfter <= 0 {
			d.RequeueAfter = time.Millisecond
		}
		return d
	}
	return judge(in, d, w)
}

// awaitPods holds the previous weight until the step's canary pods are Ready, then
// moves traffic to the step's weight and starts its analysis window.
func awaitPods(in Input, d Decision, w int, want int32) Decision {
	if !canaryReady(in, want) {
		if readyTimedOut(in) {
			return rollback(in, contract.ReasonNotReady, fmt.Sprintf("canary pods not Ready within %s (%d of %d Ready)",
				in.ReadyTimeout, in.Canary.Ready, want))
		}
		d.RequeueAfter = PollInterval
		return d
	}
	now := in.Now
	st := d.Status
	st.Weight, st.StepStartedAt = w, &now
	st.Reason = contract.ReasonStepAdvanced
	st.Message = fmt.Sprintf("step %d/%d: %d%% of traffic on the canary", st.Step, st.Steps, w)
	d.Status, d.Split.CanaryWeight = st, w
	d.RequeueAfter = in.Spec.Interval
	d.Events = append(d.Events, Event{Reason: contract.ReasonStepAdvanced, Message: st.Message})
	return d
}

// judge applies a gate's verdict: advance, wait for approval, hold, or roll back.
func judge(in Input, d Decision, w int) Decision {
	r := in.Gate
	now := in.Now
	st := d.Status
	st.Checks = r.Checks
	switch r.Verdict {
	case contract.Pass:
		st.Inconclusive = 0
		d.Status = st
		d.Events = append(d.Events, Event{Reason: contract.ReasonGatePassed,
			Message: fmt.Sprintf("gate at %d%% passed (step %d/%d)", w, st.Step, st.Steps)})
		if in.Spec.PauseAt.Has(w) && st.Approved < st.Step {
			in.Status = st
			p := pause(in, contract.ReasonAwaitingApproval, fmt.Sprintf("step %d/%d at %d%% passed; waiting for approval: run `rolloutctl promote %s`",
				st.Step, st.Steps, w, in.Name))
			p.Events = append(d.Events, p.Events...)
			return p
		}
		return advance(in, d)
	case contract.Inconclusive:
		st.Inconclusive++
		if st.Inconclusive < InconclusiveLimit {
			st.StepStartedAt = &now
			st.Reason = contract.ReasonInconclusive
			st.Message = fmt.Sprintf("gate at %d%% inconclusive (%d of %d allowed): %s",
				w, st.Inconclusive, InconclusiveLimit-1, failedSummary(r))
			d.Status, d.RequeueAfter = st, in.Spec.Interval
			d.Events = append(d.Events, Event{Warning: true, Reason: contract.ReasonInconclusive, Message: st.Message})
			return d
		}
		st.Inconclusive = 0
	}
	st.Failures++
	in.Status = st
	msg := failedSummary(r)
	if st.Failures > in.Spec.Threshold {
		return rollback(in, contract.ReasonGateFailed, fmt.Sprintf("gate at %d%% failed %d times: %s", w, st.Failures, msg))
	}
	st.StepStartedAt = &now
	st.Reason = contract.ReasonGateFailed
	st.Message = fmt.Sprintf("gate at %d%% failed (%d of %d tolerated): %s", w, st.Failures, in.Spec.Threshold, msg)
	d.Status, d.RequeueAfter = st, in.Spec.Interval
	d.Events = append(d.Events, Event{Warning: true, Reason: contract.ReasonGateFailed, Message: st.Message})
	return d
}

// advance moves to the next step, or to promotion after the last one.
func advance(in Input, d Decision) Decision {
	now := in.Now
	st := d.Status
	if st.Step >= len(in.Spec.Steps) {
		st = transition(st, now, contract.Promoting, contract.ReasonPromoting,
			fmt.Sprintf("all %d steps passed; promoting revision %s", len(in.Spec.Steps), st.Revision))
		st.ScaledAt, st.StepStartedAt = &now, nil
		in.Status = st
		p := promote(in)
		p.Events = append(append(d.Events, Event{Reason: contract.ReasonPromoting, Message: st.Message}), p.Events...)
		return p
	}
	st.Step++
	st.StepStartedAt, st.ScaledAt = nil, &now
	in.Status = st
	w := in.Spec.Steps[st.Step-1]
	want := traffic.CanaryReplicas(in.Stable.Desired, w)
	next := Decision{Status: st, CanaryReplicas: want, Split: traffic.Split{CanaryWeight: st.Weight}, Events: d.Events}
	return awaitPods(in, next, w, want)
}

// pause holds the current weight and canary size until promote or resume.
func pause(in Input, reason, msg string) Decision {
	st := transition(in.Status, in.Now, contract.Paused, reason, msg)
	_, w := stepWeight(in)
	return Decision{
		Status:         st,
		CanaryReplicas: traffic.CanaryReplicas(in.Stable.Desired, w),
		Split:          traffic.Split{CanaryWeight: st.Weight},
		Events:         []Event{{Reason: reason, Message: msg}},
	}
}

// paused waits for promote (approve the gate and go on) or resume (continue the
// step with a fresh analysis window).
func paused(in Input) Decision {
	st := in.Status
	_, w := stepWeight(in)
	hold := Decision{Status: st, CanaryReplicas: traffic.CanaryReplicas(in.Stable.Desired, w),
		Split: traffic.Split{CanaryWeight: st.Weight}}
	if in.Command == nil || (in.Command.Verb != contract.Promote && in.Command.Verb != contract.Resume) {
		return hold
	}
	now := in.Now
	by := orUnknown(in.Command.By)
	gatePassed := st.Reason == contract.ReasonAwaitingApproval && st.StepStartedAt != nil && in.Spec.PauseAt.Has(w) && st.Approved < st.Step &&
		len(st.Checks) > 0
	st = transition(st, now, contract.Progressing, contract.ReasonResumed, "resumed by "+by)
	if gatePassed || in.Command.Verb == contract.Promote {
		st.Approved = st.Step
		in.Status = st
		d := Decision{Status: st, Events: []Event{{Reason: contract.ReasonResumed, Message: fmt.Sprintf("step %d approved by %s", st.Step, by)}}}
		if st.StepStartedAt != nil && gatePassed {
			return advance(in, d)
		}
	}
	if st.StepStartedAt != nil {
		st.StepStartedAt = &now
	}
	hold.Status = st
	hold.RequeueAfter = PollInterval
	hold.Events = []Event{{Reason: contract.ReasonResumed, Message: "resumed by " + by}}
	return hold
}

// promoteFull skips the remaining steps when the last gate passed; it never skips
// a failing or missing analysis.
func promoteFull(in Input) Decision {
	st := in.Status
	_, w := stepWeight(in)
	hold := Decision{Status: st, CanaryReplicas: traffic.CanaryReplicas(in.Stable.Desired, w),
		Split: traffic.Split{CanaryWeight: st.Weight}, RequeueAfter: PollInterval}
	passed := len(st.Checks) > 0 && analysis.Combine(st.Checks).Verdict == contract.Pass
	if !passed && !in.Command.SkipAnalysis {
		hold.Events = []Event{{Warning: true, Reason: contract.ReasonPaused,
			Message: "promote --full refused: no passing gate yet for this revision (--skip-analysis overrides)"}}
		return hold
	}
	now := in.Now
	msg := fmt.Sprintf("remaining steps skipped by %s; promoting revision %s", orUnknown(in.Command.By), st.Revision)
	if !passed {
		msg = fmt.Sprintf("analysis skipped by %s (promote --full --skip-analysis); promoting revision %s without a passing gate",
			orUnknown(in.Command.By), st.Revision)
	}
	st = transition(st, now, contract.Promoting, contract.ReasonPromoting, msg)
	st.ScaledAt, st.StepStartedAt = &now, nil
	in.Status = st
	d := promote(in)
	d.Events = append([]Event{{Warning: !passed, Reason: contract.ReasonPromoting, Message: st.Message}}, d.Events...)
	return d
}
