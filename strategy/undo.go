package strategy

import (
	"fmt"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// undo returns the Deployment to a kept revision at an operator's request (no
// rollout active). The controller writes the revision's template into the
// Deployment in the same update as the decided status. By default the restored
// template goes through a fast canary (see fastUndoSpec); with Now, or when the
// stable pods already run it, the stable Deployment rolls it out at once, the way an
// alert restores a promoted revision.
func undo(in Input) Decision {
	c := in.Command
	if why := undoRefused(in); why != "" {
		rest := in
		rest.Command = nil
		d := idle(rest)
		d.Events = append(d.Events, Event{Warning: true, Reason: contract.ReasonUndoRefused,
			Message: fmt.Sprintf("undo to revision %d requested by %s refused: %s", c.Revision, orUnknown(c.By), why)})
		return d
	}
	rec := &contract.UndoRequest{Revision: c.Revision, Now: c.Now, By: c.By}
	target := in.Stable.UndoTarget
	if c.Now || target == in.Stable.Running || len(in.Spec.Steps) == 0 {
		return undoNow(in, rec)
	}
	failed := in.Status.FailedRevision
	in.Stable.Template = target
	in.Spec = fastUndoSpec(in.Spec)
	d := start(in, in.Status, contract.ReasonUndo, fmt.Sprintf("undo to revision %d (template %s) requested by %s: fast canary, one step at %d%% analysed for %s",
		c.Revision, target, orUnknown(c.By), in.Spec.Steps[0], in.Spec.Interval))
	d.Status.Undo, d.Status.FailedRevision = rec, failed
	return d
}

// undoRefused says why the undo command cannot be carried out ("" when it can).
func undoRefused(in Input) string {
	c := in.Command
	switch got := in.Stable.UndoTarget; {
	case got == "":
		return fmt.Sprintf("revision %d is not kept (only the newest %d ReplicaSets count, %s)",
			c.Revision, in.Spec.RevisionHistory, contract.KeyRevisionHistory)
	case c.Template == "":
		return "the command names no template revision to check the revision number against"
	case got != c.Template:
		return fmt.Sprintf("revision %d now holds template %s, not %s as requested; check `rolloutctl history %s`",
			c.Revision, got, c.Template, in.Name)
	}
	return ""
}

// undoNow restores the kept revision on the stable Deployment without a canary:
// phase RollingBack with Restore set, un-paused until every pod runs it.
func undoNow(in Input, rec *contract.UndoRequest) Decision {
	now, target := in.Now, in.Stable.UndoTarget
	msg := fmt.Sprintf("undo to revision %d (template %s) requested by %s: restoring it on %s at once, without a canary",
		rec.Revision, target, orUnknown(rec.By), in.Name)
	st := transition(in.Status, now, contract.RollingBack, contract.ReasonUndo, msg)
	st.Revision, st.StableRevision, st.Restore = target, in.Stable.Running, target
	st.Weight, st.Step, st.Steps = 0, 0, 0
	st.Failures, st.Inconclusive, st.Approved = 0, 0, 0
	st.Checks, st.StepStartedAt, st.ScaledAt = nil, nil, nil
	st.StartedAt, st.Undo = &now, rec
	return Decision{
		Status:       st,
		Split:        traffic.Split{},
		Stable:       Resume,
		RequeueAfter: PollInterval,
		Events:       []Event{{Reason: contract.ReasonUndo, Message: msg}},
	}
}

// finishUndo ends an undo without a canary with Succeeded (reason Undone) once the
// stable pods run the kept revision, or with Idle when someone else's template
// interrupts it.
func finishUndo(in Input) Decision {
	return restoreStable(in, restoreEnd{interrupted: contract.Idle, reason: contract.ReasonUndo, event: contract.ReasonUndo,
		done: func(st contract.Status) (contract.Status, Event) {
			st = undoneStatus(transition(st, in.Now, contract.Succeeded, contract.ReasonUndone, ""))
			return st, Event{Reason: contract.ReasonUndone, Message: st.Message}
		}})
}

// undoneStatus marks a Succeeded status that completes an undo (reason Undone and
// a message naming the revision and who asked); other statuses pass unchanged.
func undoneStatus(st contract.Status) contract.Status {
	u := st.Undo
	if u == nil || st.Phase != contract.Succeeded {
		return st
	}
	how := "after a fast canary"
	if st.Restore != "" {
		how = "without a canary"
	}
	st.Reason = contract.ReasonUndone
	st.Message = fmt.Sprintf("undo to revision %d (template %s) requested by %s done %s: the stable pods run it",
		u.Revision, st.Revision, orUnknown(u.By), how)
	return st
}

// fastUndoSpec is the step list of an undo's canary. The kept revision already ran
// on the stable pods, so its canary skips the small first steps: one step at the
// last step's weight, analysed for one interval, without manual gates (the undo is
// the operator's approval). Checks and threshold stay the user's, so a kept revision
// that is bad for today's traffic is still rolled back.
func fastUndoSpec(sp contract.Spec) contract.Spec {
	sp.Steps = []int{sp.Steps[len(sp.Steps)-1]}
	sp.PauseAt = contract.PauseAt{}
	return sp
}

// withUndoSpec applies fastUndoSpec while an undo's canary is under way.
func withUndoSpec(in Input) Input {
	if u := in.Status.Undo; u != nil && in.Status.Phase.Active() && in.Status.Restore == "" && len(in.Spec.Steps) > 0 {
		in.Spec = fastUndoSpec(in.Spec)
	}
	return in
}

// isUndo reports whether the pending command is an undo.
func isUndo(in Input) bool { return in.Command != nil && in.Command.Verb == contract.Undo }
