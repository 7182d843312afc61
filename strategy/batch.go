package strategy

import (
	"fmt"
	"time"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// A batch release moves pods, not traffic: the user's Service selects the stable
// and the canary pods alike, and each batch moves pods from the stable Deployment
// (scaled down; it stays paused) to the canary copy (scaled up) in chunks bounded
// by max-surge or max-unavailable. Between batches the new pods are analysed
// against the old ones. Promotion moves every pod to the canary, lets the stable
// Deployment roll out the vetted template at zero replicas, then moves the pods
// back; a rollback moves them back to the stable template. Both end with the
// stable Deployment at the desired count and no canary.

// usesBatches reports whether the batch state machine decides: for strategy batch,
// and for a batch release still under way after the strategy annotation changed
// (its pods must be handed back the way they were taken).
func usesBatches(in Input) bool {
	return in.Spec.Strategy == contract.Batch || (in.Status.Batch != nil && in.Status.Phase.Active())
}

// batchStep decides for a batch release: its own moves while progressing, paused,
// promoting or rolling back, and the shared transitions (start, alert, abort,
// broken routing, template change) adopted into their batch form.
func batchStep(in Input) Decision {
	st := in.Status
	var d Decision
	switch {
	case st.Phase == contract.RollingBack && st.Restore == "" && st.Batch != nil:
		d = batchReverse(in)
	case st.Phase == contract.RollingBack && st.Batch != nil:
		d = batchRestore(in)
	case (st.Phase == contract.Progressing || st.Phase == contract.Paused) && st.Batch != nil && !interrupted(in):
		d = batchProgress(in)
	case st.Phase == contract.Promoting && st.Batch != nil && in.Alert == nil:
		d = batchPromote(in)
	default:
		d = adopt(in, step(in))
	}
	if !d.Status.Phase.Active() {
		d.Status.Batch = nil
	}
	return d
}

// interrupted reports whether something ends the batch in progress: an alert,
// broken routing, an abort or a changed template.
func interrupted(in Input) bool {
	abort := in.Command != nil && in.Command.Verb == contract.Abort
	return in.Alert != nil || in.Broken != "" || abort || in.Stable.Template != in.Status.Revision
}

// adopt turns a decision of the shared transitions into its batch form: a start
// plans the first batch; a rollback reverses the batches instead of deleting the
// canary; a restart with a newer template first reverses the current release (the
// newer one starts from Idle afterwards).
func adopt(in Input, d Decision) Decision {
	prev := in.Status
	switch {
	case d.Status.Phase == contract.Progressing && prev.Phase.Active() && prev.Batch != nil && d.Status.Revision != prev.Revision:
		r := rollback(in, contract.ReasonReverted, fmt.Sprintf("template changed during the batch release; reversing it before releasing revision %s",
			in.Stable.Template))
		r.Status.FailedRevision = ""
		return adopt(in, r)
	case d.Status.Phase == contract.RollingBack && prev.Phase != contract.RollingBack && d.Status.Restore == "" && prev.Batch != nil:
		next := in
		next.Status = d.Status
		next.Status.Batch = prev.Batch
		r := batchReverse(next)
		r.Events = append(d.Events, r.Events...)
		return r
	case d.Status.Phase == contract.Progressing && !prev.Phase.Active():
		return batchStart(in, d)
	}
	return d
}

// batchStart records the desired count and plans the first batch.
func batchStart(in Input, d Decision) Decision {
	st := d.Status
	desired := max(in.Stable.Desired, 1)
	st.Step, st.Steps = 1, len(in.Spec.Batches)
	st.Batch = &contract.BatchStatus{Desired: desired, Stable: in.Stable.Desired}
	in.Status = st
	next := batchMove(in, BatchTargets(in.Spec.Batches, desired)[0])
	next.Events = append(d.Events, next.Events...)
	return next
}

// batchProgress moves the current batch's pods, holds the batch for an interval
// once its pods are Ready, and judges its gate.
func batchProgress(in Input) Decision {
	in.Status = rebased(in)
	st := in.Status
	if st.Phase == contract.Paused {
		return batchPaused(in)
	}
	if in.Command != nil && in.Command.Verb == contract.Pause {
		return batchPause(in, contract.ReasonPaused, fmt.Sprintf("paused by %s; run `rolloutctl resume %s` to continue", orUnknown(in.Command.By), in.Name))
	}
	if in.Command != nil && in.Command.Verb == contract.Promote && in.Command.Full && gatePassed(st) {
		return batchToPromotion(in, hold(st), fmt.Sprintf("remaining batches skipped by %s", orUnknown(in.Command.By)))
	}
	if st.StepStartedAt == nil {
		return batchMove(in, batchTarget(in))
	}
	d := hold(st)
	if in.Gate == nil || !GateDue(in) {
		d.RequeueAfter = max(st.StepStartedAt.Add(in.Spec.Interval).Sub(in.Now), time.Millisecond)
		return d
	}
	return batchJudge(in, d)
}

// rebased is the status with its batch plan adapted to a stable size someone else
// changed, and the canary's size as observed. The stable's size and the status come
// from the same object, so they agree even when the cache lags; the canary is
// another object, and a plan built on a lagging status must never shrink it back.
func rebased(in Input) contract.Status {
	st := in.Status
	b := Rebase(*st.Batch, in.Stable.Desired)
	b.Canary = 0
	if in.Canary.Exists {
		b.Canary = in.Canary.Replicas
	}
	st.Batch = &b
	return st
}

// batchTarget is the canary count of the current batch (the step index clamped to
// a batches annotation that was shortened meanwhile).
func batchTarget(in Input) int32 {
	ts := BatchTargets(in.Spec.Batches, in.Status.Batch.Desired)
	i := min(max(in.Status.Step, 1), len(ts))
	return ts[i-1]
}

// hold keeps both Deployments at the sizes the status records.
func hold(st contract.Status) Decision {
	b := *st.Batch
	return Decision{Status: st, CanaryReplicas: b.Canary, StableReplicas: &b.Stable,
		Split: traffic.Split{CanaryWeight: st.Weight}}
}

// batchMove moves the next chunk of the current batch toward target canary pods;
// once they are all Ready the batch's analysis window starts.
func batchMove(in Input, target int32) Decision {
	st := in.Status
	b := *st.Batch
	p, state := NextMove(Move{Pods: Pods{Grow: b.Canary, Shrink: b.Stable}, Ready: canaryPodsReady(in), ShrinkPods: in.Stable.Pods,
		Desired: b.Desired, Target: target, Order: in.Spec.RollingOrder, Limits: ResolveLimits(in.Spec, b.Desired)})
	b.Canary, b.Stable = p.Grow, p.Shrink
	st.Batch, st.Weight = &b, share(b)
	now := in.Now
	switch state {
	case Moved:
		st.ScaledAt = &now
		st.Message = fmt.Sprintf("batch %d/%d: moving pods to revision %s (%d old, %d new, target %d new)",
			st.Step, st.Steps, st.Revision, b.Stable, b.Canary, target)
	case AwaitReady:
		if readyTimedOut(in) {
			return adopt(in, rollback(in, contract.ReasonNotReady, fmt.Sprintf("batch %d/%d: new pods not Ready within %s (%d of %d Ready)",
				st.Step, st.Steps, in.ReadyTimeout, canaryPodsReady(in), b.Canary)))
		}
	case Done:
		st.StepStartedAt = &now
		if b.Stable == 0 {
			return batchUncompared(in, st)
		}
		st.Reason = contract.ReasonStepAdvanced
		st.Message = fmt.Sprintf("batch %d/%d: %d of %d pods run revision %s; analysing them against the old ones",
			st.Step, st.Steps, b.Canary, b.Desired, st.Revision)
		d := hold(st)
		d.RequeueAfter = in.Spec.Interval
		d.Events = []Event{{Reason: contract.ReasonStepAdvanced, Message: st.Message}}
		return d
	}
	d := hold(st)
	d.RequeueAfter = PollInterval
	return d
}

// batchUncompared ends a batch that left no old pods: there is no baseline to
// analyse the new pods against, so the batch is not gated (the last batch that
// kept old pods was); a pause-at still waits for approval.
func batchUncompared(in Input, st contract.Status) Decision {
	st.Reason = contract.ReasonStepAdvanced
	st.Message = fmt.Sprintf("batch %d/%d: all %d pods run revision %s; no old pods left to compare them with",
		st.Step, st.Steps, st.Batch.Desired, st.Revision)
	in.Status = st
	if in.Spec.PauseAt.Has(st.Step) && st.Approved < st.Step {
		return batchPause(in, contract.ReasonAwaitingApproval, fmt.Sprintf("batch %d/%d in place; waiting for approval: run `rolloutctl promote %s`",
			st.Step, st.Steps, in.Name))
	}
	d := batchNext(in)
	d.Events = append([]Event{{Reason: contract.ReasonStepAdvanced, Message: st.Message}}, d.Events...)
	return d
}

// canaryPodsReady is the canary's Ready pods running the revision under release.
func canaryPodsReady(in Input) int32 {
	if !in.Canary.Exists || in.Canary.Revision != in.Status.Revision {
		return 0
	}
	return in.Canary.Ready
}

// share is the canary's share of the desired pods in percent (its traffic share
// under the replica-ratio router).
func share(b contract.BatchStatus) int {
	if b.Desired < 1 {
		return 0
	}
	return min(100, int(int64(b.Canary)*100/int64(b.Desired)))
}

// batchJudge applies a gate: a pass moves to the next batch (or waits for
// approval at a pause-at batch, or promotes after the last); anything else goes
// through the shared threshold logic, whose rollback reverses the batches.
func batchJudge(in Input, d Decision) Decision {
	if in.Gate.Verdict != contract.Pass {
		return adopt(in, judge(in, d, d.Status.Weight))
	}
	st := d.Status
	st.Checks, st.Inconclusive = in.Gate.Checks, 0
	in.Status = st
	passed := Event{Reason: contract.ReasonGatePassed, Message: fmt.Sprintf("gate of batch %d/%d passed", st.Step, st.Steps)}
	if in.Spec.PauseAt.Has(st.Step) && st.Approved < st.Step {
		p := batchPause(in, contract.ReasonAwaitingApproval, fmt.Sprintf("batch %d/%d passed; waiting for approval: run `rolloutctl promote %s`",
			st.Step, st.Steps, in.Name))
		p.Events = append([]Event{passed}, p.Events...)
		return p
	}
	next := batchNext(in)
	next.Events = append([]Event{passed}, next.Events...)
	return next
}

// gatePassed reports whether the last gate of this release passed.
func gatePassed(st contract.Status) bool {
	return len(st.Checks) > 0 && analysis.Combine(st.Checks).Verdict == contract.Pass
}

// batchNext starts the next batch, or the promotion after the last one.
func batchNext(in Input) Decision {
	st := in.Status
	if st.Step >= len(in.Spec.Batches) {
		return batchToPromotion(in, hold(st), fmt.Sprintf("all %d batches passed", len(in.Spec.Batches)))
	}
	now := in.Now
	st.Step++
	st.StepStartedAt, st.ScaledAt = nil, &now
	in.Status = st
	return batchMove(in, batchTarget(in))
}

// batchPause holds both sizes until promote or resume.
func batchPause(in Input, reason, msg string) Decision {
	d := hold(transition(in.Status, in.Now, contract.Paused, reason, msg))
	d.Events = []Event{{Reason: reason, Message: msg}}
	return d
}

// batchPaused waits for promote (approve the passed batch and go on) or resume
// (continue the batch with a fresh analysis window).
func batchPaused(in Input) Decision {
	st := in.Status
	c := in.Command
	if c == nil || (c.Verb != contract.Promote && c.Verb != contract.Resume) {
		return hold(st)
	}
	now := in.Now
	by := orUnknown(c.By)
	approval := st.Reason == contract.ReasonAwaitingApproval && st.StepStartedAt != nil
	st = transition(st, now, contract.Progressing, contract.ReasonResumed, "resumed by "+by)
	if c.Verb == contract.Promote {
		st.Approved = st.Step
	}
	in.Status = st
	resumed := Event{Reason: contract.ReasonResumed, Message: fmt.Sprintf("batch %d/%d resumed by %s", st.Step, st.Steps, by)}
	if approval && c.Verb == contract.Promote {
		d := batchNext(in)
		d.Events = append([]Event{resumed}, d.Events...)
		return d
	}
	if st.StepStartedAt != nil {
		st.StepStartedAt = &now
	}
	d := hold(st)
	d.RequeueAfter = PollInterval
	d.Events = []Event{resumed}
	return d
}

// batchToPromotion enters Promoting and takes the promotion's first move.
func batchToPromotion(in Input, d Decision, why string) Decision {
	now := in.Now
	st := transition(d.Status, now, contract.Promoting, contract.ReasonPromoting, fmt.Sprintf("%s; promoting revision %s", why, d.Status.Revision))
	st.ScaledAt, st.StepStartedAt = &now, nil
	in.Status = st
	p := batchPromote(in)
	p.Events = append(append(d.Events, Event{Reason: contract.ReasonPromoting, Message: st.Message}), p.Events...)
	return p
}
