package strategy

import (
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// restoreEnd says how a restore of the stable pods ends.
type restoreEnd struct {
	// interrupted, reason and event are the phase, the status reason and the
	// warning Event's reason when someone else's template interrupts the restore.
	interrupted   contract.Phase
	reason, event string
	// done ends the restore once the stable pods run the restored template: it
	// gets the status with the restore still recorded and returns the final one
	// with its Event; restoreStable then records the restored revision as stable.
	done func(contract.Status) (contract.Status, Event)
}

// restoreStable keeps the stable Deployment rolling out the restored template
// (Status.Restore) with its own strategy until every pod runs it, then ends as
// end.done says. A template written by someone else meanwhile is never rolled
// out unvetted: the restore ends at once as interrupted (the Deployment is paused
// again) and the new template gets a canary from the next decision on.
func restoreStable(in Input, end restoreEnd) Decision {
	st := in.Status
	if in.Stable.Template != st.Restore {
		st.Message += "; interrupted: the pod template changed, the new one gets a canary"
		st.Restore = ""
		st = transition(st, in.Now, end.interrupted, end.reason, st.Message)
		return Decision{Status: st, Split: traffic.Split{}, RequeueAfter: PollInterval,
			Events: []Event{{Warning: true, Reason: end.event, Message: st.Message}}}
	}
	if !in.Stable.RolledOut || in.Stable.Running != st.Restore {
		return Decision{Status: st, Split: traffic.Split{}, Stable: Resume, RequeueAfter: PollInterval}
	}
	restored := st.Restore
	st, ev := end.done(st)
	st.StableRevision, st.Restore = restored, ""
	return Decision{Status: st, Split: traffic.Split{}, Events: []Event{ev}}
}
