package strategy

import (
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// restoreStable keeps the stable Deployment rolling out the restored template
// (Status.Restore) with its own strategy until every pod runs it, then ends with
// done. A template written by someone else meanwhile is never rolled out unvetted:
// interrupted ends the restore at once (the Deployment is paused again) and the new
// template gets a canary from the next decision on. Both get the status with the
// restore still recorded.
func restoreStable(in Input, interrupted, done func(contract.Status) Decision) Decision {
	st := in.Status
	if in.Stable.Template != st.Restore {
		st.Message += "; interrupted: the pod template changed, the new one gets a canary"
		st.Restore = ""
		return interrupted(st)
	}
	if !in.Stable.RolledOut || in.Stable.Running != st.Restore {
		return Decision{Status: st, Split: traffic.Split{}, Stable: Resume, RequeueAfter: PollInterval}
	}
	return done(st)
}
