package strategy

import (
	"fmt"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// batchPromote hands a vetted revision to the user's Deployment without ever
// exceeding the batch limits: every pod moves to the canary first; the stable
// Deployment, now at zero replicas, is un-paused to roll out the vetted template
// (no pod changes); then pods move back to it chunk by chunk, and the canary is
// removed once the stable holds the desired count, Ready.
func batchPromote(in Input) Decision {
	in.Status = rebased(in)
	st := in.Status
	b := *st.Batch
	if handingBack(in, b) {
		return batchHandBack(in)
	}
	if in.Stable.Template != st.Revision {
		// Never un-pause an unvetted template: give the pods back to the stable
		// revision; the newer template starts from Idle.
		return adopt(in, rollback(in, contract.ReasonReverted, fmt.Sprintf("template changed during promotion; reversing it before releasing revision %s",
			in.Stable.Template)))
	}
	if b.Canary < b.Desired || b.Stable > 0 || canaryPodsReady(in) < b.Canary {
		d := batchMove(in, b.Desired)
		if d.Status.Phase != contract.Promoting || d.Status.StepStartedAt == nil {
			return d
		}
		// Done: every pod runs on the canary; fall through to the stable's rollout.
		d.Status.StepStartedAt, d.Events = nil, nil
		in.Status = d.Status
		st, b = in.Status, *in.Status.Batch
	}
	st.Reason = contract.ReasonPromoting
	st.Message = fmt.Sprintf("the canary holds all %d pods while %s rolls out revision %s at zero replicas", b.Desired, in.Name, st.Revision)
	d := hold(st)
	d.Stable, d.RequeueAfter = Resume, PollInterval
	return d
}

// handingBack reports whether the stable runs the vetted revision and the pods
// are on their way back to it: the stable rolled it out at zero replicas, or the
// hand-back has begun (stable pods, or a canary already below the desired count:
// a delete-first chunk shrinks the canary before the stable grows). The stable's
// rollout state alone is not enough: the hand-back re-pauses the stable, and
// until its controller observes that, it reads as not rolled out.
func handingBack(in Input, b contract.BatchStatus) bool {
	return in.Stable.Running == in.Status.Revision && (in.Stable.RolledOut || b.Stable > 0 || b.Canary < b.Desired)
}

// batchHandBack moves the pods from the canary back to the stable Deployment,
// which runs the vetted revision, then records the promotion.
func batchHandBack(in Input) Decision {
	st := in.Status
	b := *st.Batch
	p, state := NextMove(Move{Pods: Pods{Grow: b.Stable, Shrink: b.Canary}, Ready: in.Stable.Ready, ShrinkPods: in.Canary.Pods,
		Desired: b.Desired, Target: b.Desired, Order: in.Spec.RollingOrder, Limits: ResolveLimits(in.Spec, b.Desired)})
	b.Stable, b.Canary = p.Grow, p.Shrink
	st.Batch, st.Weight = &b, share(b)
	if state != Done {
		st.Message = fmt.Sprintf("handing pods back to %s on revision %s (%d on %s, %d on the canary)",
			in.Name, st.Revision, b.Stable, in.Name, b.Canary)
		d := hold(st)
		d.RequeueAfter = PollInterval
		return d
	}
	st = transition(st, in.Now, contract.Succeeded, contract.ReasonPromoted, fmt.Sprintf("revision %s promoted", st.Revision))
	st.Weight, st.StableRevision = 0, st.Revision
	st.StepStartedAt, st.ScaledAt = nil, nil
	d := hold(st)
	d.CanaryReplicas = 0
	d.Events = []Event{{Reason: contract.ReasonPromoted, Message: st.Message}}
	return d
}

// batchReverse rolls a batch release back: pods move from the canary back to the
// stable revision in the same chunks and order as they came (create-first:
// stable pods Ready before canary pods go), then the canary is removed and the
// rollback recorded with the reason that started it.
func batchReverse(in Input) Decision {
	in.Status = rebased(in)
	st := in.Status
	b := *st.Batch
	p, state := NextMove(Move{Pods: Pods{Grow: b.Stable, Shrink: b.Canary}, Ready: in.Stable.Ready, ShrinkPods: in.Canary.Pods,
		Desired: b.Desired, Target: b.Desired, Order: in.Spec.RollingOrder, Limits: ResolveLimits(in.Spec, b.Desired)})
	b.Stable, b.Canary = p.Grow, p.Shrink
	st.Batch, st.Weight = &b, 0
	if state != Done {
		d := hold(st)
		d.Split.CanaryWeight = 0
		d.RequeueAfter = PollInterval
		return d
	}
	in.Status = st
	d := finishRollback(in)
	d.StableReplicas = &b.Stable
	return d
}

// batchRestore rolls back a batch promotion the stable had already rolled out (an
// alert while promoting): the stable, un-paused, rolls its previous template out
// (Status.Restore, written with the status that began the rollback); once every
// stable pod runs it, the pods move back from the canary as in batchReverse, which
// ends the restore. A template someone else writes meanwhile ends the restore: the
// pods move back to the stable, paused, and the new template gets a canary later.
func batchRestore(in Input) Decision {
	st := in.Status
	if in.Stable.Template != st.Restore {
		st.Message += "; interrupted: the pod template changed, the new one gets a canary"
		st.Restore = ""
		in.Status = st
		return batchReverse(in)
	}
	if !in.Stable.RolledOut || in.Stable.Running != st.Restore {
		in.Status = rebased(in)
		d := hold(in.Status)
		d.Split.CanaryWeight = 0
		d.Stable, d.RequeueAfter = Resume, PollInterval
		return d
	}
	return batchReverse(in)
}
