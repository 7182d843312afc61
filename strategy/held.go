package strategy

import (
	"fmt"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// held keeps a rollout whose annotations became invalid where it stands: the
// decision d was made on the last valid spec, and everything in it that takes
// exposure away (an alert, an abort, a failed gate, a readiness deadline, a
// rollback under way) stands, while anything that would expose the canary more
// (a higher weight, the next step, a switch, a promotion) is held back until the
// annotations parse again. A promotion already under way finishes: stopping it
// half-way would leave the canary carrying all traffic.
func held(in Input, d Decision) Decision {
	st := in.Status
	if st.Phase == contract.Promoting || st.Phase == contract.RollingBack || d.Status.Phase == contract.RollingBack {
		return d
	}
	if d.Status.Revision != st.Revision {
		return heldTemplateChange(in)
	}
	if !advances(st, d) {
		return d
	}
	h := d
	h.Status = st
	h.Status.Checks = d.Status.Checks
	h.Status.Failures, h.Status.Inconclusive = d.Status.Failures, d.Status.Inconclusive
	h.Status.Reason, h.Status.Message = contract.ReasonInvalidSpec, heldMessage(in, st)
	h.Split.CanaryWeight = st.Weight
	h.Stable = KeepPaused
	h.RequeueAfter = PollInterval
	if in.Gate != nil {
		// The gate passed; judge again one interval later, still without advancing.
		now := in.Now
		h.Status.StepStartedAt = &now
		h.RequeueAfter = in.Spec.Interval
	}
	if in.Canary.Exists {
		h.CanaryReplicas = in.Canary.Replicas
	}
	if st.Batch != nil {
		h.CanaryReplicas, h.StableReplicas = st.Batch.Canary, &st.Batch.Stable
	}
	h.Events = nil
	for _, e := range d.Events {
		if e.Reason == contract.ReasonGatePassed {
			h.Events = append(h.Events, e)
		}
	}
	return h
}

// heldTemplateChange takes the canary of the revision in flight away when the
// template changes while the annotations are invalid: a new rollout starts only on a
// valid spec.
func heldTemplateChange(in Input) Decision {
	d := rollback(in, contract.ReasonInvalidSpec, fmt.Sprintf("template changed while the annotations are invalid (%s); "+
		"canary removed, revision %s starts once they are fixed", in.Held, in.Stable.Template))
	if usesBatches(in) {
		d = adopt(in, d)
	}
	return d
}

// heldMessage says where the rollout is held and why.
func heldMessage(in Input, st contract.Status) string {
	return fmt.Sprintf("held at %d%% (step %d/%d) until the annotations are valid again; abort, alerts, failed gates and "+
		"readiness deadlines still roll back: %s", st.Weight, st.Step, st.Steps, in.Held)
}

// phaseRank orders the phases a rollout moves forward through.
var phaseRank = map[contract.Phase]int{
	contract.Progressing: 1, contract.Paused: 1, contract.PendingConfirmation: 2, contract.Promoting: 3, contract.Succeeded: 4,
}

// advances reports whether d exposes the canary more than st: a later phase, a
// later step or a higher weight.
func advances(st contract.Status, d Decision) bool {
	return phaseRank[d.Status.Phase] > phaseRank[st.Phase] || d.Status.Step > st.Step || d.Split.CanaryWeight > st.Weight
}
