package strategy

import (
	"fmt"
	"strings"
	"time"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// Step computes the next decision for an opted-in Deployment, and what it does to
// the rollout.
func Step(in Input) Decision {
	return withTransition(in.Status, withStanding(in, decide(in)))
}

// decide computes the next decision for an opted-in Deployment.
func decide(in Input) Decision {
	if rev := unvetted(in); rev != "" {
		return revertUnvetted(in, rev)
	}
	if usesBatches(in) {
		return guard(in, batchStep(in))
	}
	actual := in.Stable.Desired
	in, size := withSized(in)
	return keepSized(in, guard(in, step(in)), size, actual)
}

// guard applies what holds whatever the strategy decided: a rollout with invalid
// annotations never advances, and a canary losing its Ready pods under traffic is
// rolled back.
func guard(in Input, d Decision) Decision {
	if in.Held != "" {
		d = held(in, d)
	}
	return watchReadiness(in, d)
}

// step decides for the traffic-weighted strategies, and the transitions a batch
// release shares with them (alerts, aborts, starts).
func step(in Input) Decision {
	in = withUndoSpec(in)
	st := in.Status
	switch {
	case st.Phase == contract.RollingBack:
		return finishRollback(in)
	case in.Alert != nil:
		return onAlert(in)
	case in.Broken != "" && st.Phase.Active():
		return rollback(in, contract.ReasonRoutingBroken, in.Broken)
	case in.Command != nil && in.Command.Verb == contract.Abort && st.Phase.Active() && st.Phase != contract.Promoting:
		return rollback(in, contract.ReasonAborted, aborted(in.Command))
	case isUndo(in) && !st.Phase.Active():
		return undo(in)
	case st.Phase.Active() && in.Stable.Template != st.Revision && st.Phase != contract.Promoting:
		return templateChanged(in)
	case in.Spec.Strategy == contract.ABTest && (st.Phase == contract.Progressing || st.Phase == contract.Paused || st.Phase == contract.Promoting):
		return abTest(in)
	case in.Spec.Strategy == contract.Canary && in.Spec.MirrorPercent > 0 && (st.Phase == contract.Progressing || st.Phase == contract.Paused):
		return sticky(in, mirrored(in))
	case st.Phase == contract.PendingConfirmation || (blueGreenRelease(in) && st.Phase.Active() && st.Phase != contract.Promoting):
		return blueGreen(in)
	case st.Phase == contract.Progressing || st.Phase == contract.Paused:
		return sticky(in, progress(in))
	case st.Phase == contract.Promoting:
		return promote(in)
	default:
		return idle(in)
	}
}

// maxReason bounds an operator's reason quoted in the status message.
const maxReason = 200

// aborted is the message of an operator's abort, with the reason given.
func aborted(c *contract.Command) string {
	msg := "aborted by " + orUnknown(c.By)
	if r := strings.TrimSpace(c.Reason); r != "" {
		if len(r) > maxReason {
			r = r[:maxReason] + "..."
		}
		msg += ": " + r
	}
	return msg
}

func orUnknown(s string) string {
	if s == "" {
		return "an operator"
	}
	return s
}

// transition returns st moved to phase with a reason and message, stamped now.
func transition(st contract.Status, now time.Time, phase contract.Phase, reason, msg string) contract.Status {
	if st.Phase != phase {
		st.LastTransitionTime = now
	}
	st.Phase, st.Reason, st.Message = phase, reason, msg
	return st
}

// idle handles a Deployment with no rollout under way: start one when the template
// differs from what the stable pods run, unless that revision already failed.
func idle(in Input) Decision {
	st := in.Status
	if st.Phase == "" {
		st = transition(st, in.Now, contract.Idle, contract.ReasonProgressing, "watching for a new pod template")
	}
	st.StableRevision = in.Stable.Running
	tmpl := in.Stable.Template
	if in.Stable.Running == "" {
		// A Deployment with no ReplicaSet yet has nothing to compare a canary
		// with: let it roll out its first revision natively.
		return Decision{Status: st, Stable: Resume, RequeueAfter: PollInterval}
	}
	if tmpl == in.Stable.Running || tmpl == "" {
		return Decision{Status: st}
	}
	if tmpl == st.FailedRevision {
		if in.Command != nil && in.Command.Verb == contract.Retry {
			return start(in, st, contract.ReasonProgressing, fmt.Sprintf("retry of revision %s requested by %s", tmpl, orUnknown(in.Command.By)))
		}
		// A rolled-back revision waits for a new template (or a retry).
		return Decision{Status: st}
	}
	if in.Broken != "" {
		msg := "cannot start a canary: " + in.Broken
		d := Decision{Status: st, RequeueAfter: 30 * time.Second}
		if st.Message != msg {
			d.Status.Message, d.Status.Reason = msg, contract.ReasonRoutingBroken
			d.Events = []Event{{Warning: true, Reason: contract.ReasonRoutingBroken, Message: msg}}
		}
		return d
	}
	return start(in, st, contract.ReasonProgressing, fmt.Sprintf("canary for revision %s started", tmpl))
}

// start begins (or restarts) a rollout of the current template at step 1.
func start(in Input, st contract.Status, reason, msg string) Decision {
	now := in.Now
	st = transition(st, now, contract.Progressing, reason, msg)
	st.Revision = in.Stable.Template
	st.StableRevision = baseline(in)
	steps, replicas := firstStep(in)
	st.Step, st.Steps, st.Weight = 1, steps, 0
	st.Failures, st.Inconclusive, st.Approved = 0, 0, 0
	st.Checks, st.StepStartedAt, st.ScaledAt = nil, nil, &now
	st.FailedRevision, st.Restore, st.SwitchedAt = "", "", nil
	st.StartedAt, st.Undo = &now, nil
	return Decision{
		Status:         st,
		CanaryReplicas: replicas,
		Split:          traffic.Split{},
		RequeueAfter:   PollInterval,
		Events:         []Event{{Reason: reason, Message: msg}},
	}
}

// templateChanged restarts the analysis when the user edits the template during a
// rollout: the newest template wins, and traffic leaves the old canary first.
func templateChanged(in Input) Decision {
	if in.Stable.Template == in.Stable.Running {
		d := rollback(in, contract.ReasonReverted, "template reverted to the stable revision; canary removed")
		d.Status.FailedRevision = ""
		return d
	}
	return start(in, in.Status, contract.ReasonRestarted,
		fmt.Sprintf("template changed during the rollout; restarting with revision %s", in.Stable.Template))
}

// rollback moves traffic to stable at once and removes the canary. The revision is
// marked failed so it is not retried until the template changes.
func rollback(in Input, reason, msg string) Decision {
	st := transition(in.Status, in.Now, contract.RollingBack, reason, msg)
	st.Weight = 0
	st.StepStartedAt, st.ScaledAt = nil, nil
	st.FailedRevision = st.Revision
	return Decision{
		Status:         st,
		CanaryReplicas: 0,
		Split:          traffic.Split{},
		RequeueAfter:   PollInterval,
		Events:         []Event{{Warning: true, Reason: reason, Message: "rolling back: " + msg}},
	}
}

// finishRollback waits until the canary is gone, then records RolledBack (or
// Aborted, or Idle after a revert) with the reason that started the rollback.
func finishRollback(in Input) Decision {
	st := in.Status
	if st.Restore != "" && st.Reason == contract.ReasonUndo {
		return finishUndo(in)
	}
	if st.Restore != "" {
		return finishRestore(in)
	}
	d := Decision{Status: st, CanaryReplicas: 0, Split: traffic.Split{}}
	if in.Canary.Exists {
		d.RequeueAfter = PollInterval
		return d
	}
	phase := contract.RolledBack
	switch st.Reason {
	case contract.ReasonAborted:
		phase = contract.Aborted
	case contract.ReasonReverted:
		phase = contract.Idle
	}
	d.Status = transition(st, in.Now, phase, st.Reason, st.Message)
	d.Events = []Event{{Warning: phase != contract.Idle, Reason: contract.ReasonRolledBack,
		Message: fmt.Sprintf("revision %s rolled back: %s", st.Revision, st.Message)}}
	return d
}

// failedSummary names the checks that failed with their reasons, for messages.
func failedSummary(r *analysis.Result) string {
	var parts []string
	for _, c := range r.Checks {
		if c.Verdict != contract.Pass {
			s := c.Name
			if c.Reason != "" {
				s += ": " + c.Reason
			}
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "; ")
}
