package strategy

import (
	"fmt"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// promote hands a vetted revision to the user's Deployment in a safe order: the
// canary at full size takes all traffic, the stable Deployment is un-paused and rolls
// out the vetted template with its own strategy, traffic returns to the stable pods
// once they run it, and only then is the canary removed and the Deployment paused.
func promote(in Input) Decision {
	st := in.Status
	full := in.Stable.Desired
	if full < 1 {
		full = 1
	}
	if in.Stable.Template != st.Revision {
		// Never un-pause an unvetted template, nor keep a canary of a revision the
		// template no longer holds: analyse the new one from step 1.
		return start(in, st, contract.ReasonRestarted,
			fmt.Sprintf("template changed during promotion; restarting with revision %s", in.Stable.Template))
	}
	d := Decision{Status: st, CanaryReplicas: full, Split: traffic.Split{CanaryWeight: st.Weight},
		RequeueAfter: PollInterval}
	if st.Weight < 100 {
		if !canaryReady(in, full) {
			if readyTimedOut(in) {
				return rollback(in, contract.ReasonNotReady, fmt.Sprintf("canary not Ready at full size within %s (%d of %d Ready)",
					in.ReadyTimeout, in.Canary.Ready, full))
			}
			return d
		}
		st.Weight = 100
		st.Message = fmt.Sprintf("canary at full size takes all traffic while %s rolls out revision %s", in.Name, st.Revision)
		d.Status, d.Split.CanaryWeight = st, 100
		return d
	}
	if !in.Stable.RolledOut || in.Stable.Running != st.Revision {
		d.Stable = Resume
		return d
	}
	now := in.Now
	st = undoneStatus(transition(st, now, contract.Succeeded, contract.ReasonPromoted, fmt.Sprintf("revision %s promoted", st.Revision)))
	st.Weight = 0
	st.StableRevision = st.Revision
	st.StepStartedAt, st.ScaledAt = nil, nil
	return Decision{
		Status:         st,
		CanaryReplicas: 0,
		Split:          traffic.Split{},
		Stable:         KeepPaused,
		Events:         []Event{{Reason: st.Reason, Message: st.Message}},
	}
}

// Promoting reports whether the decision lets the stable Deployment roll out.
func (d Decision) Promoting() bool { return d.Stable == Resume && d.Status.Phase == contract.Promoting }
