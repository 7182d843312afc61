package strategy

import (
	"fmt"
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// DefaultUnreadyLimit is how long a canary carrying traffic may have fewer Ready
// pods than its share needs before it is rolled back, when Input.UnreadyLimit is 0.
const DefaultUnreadyLimit = 30 * time.Second

// watchReadiness re-checks the canary's readiness while it carries traffic, after
// its step started: a canary that loses Ready pods under load (crash loops,
// failing probes) for longer than the unready limit is rolled back with that
// reason. The first moment it was seen short is kept in the status, so the bound
// holds across reconciles and restarts. A batch release moves pods and watches
// them itself.
func watchReadiness(in Input, d Decision) Decision {
	st := in.Status
	if !carriesTraffic(in) || d.Status.Phase != st.Phase || usesBatches(in) {
		d.Status.UnreadySince = nil
		return d
	}
	need := traffic.CanaryReplicas(in.Stable.Desired, st.Weight)
	ready := in.Canary.Ready
	if !in.Canary.Exists || in.Canary.Revision != st.Revision {
		ready = 0
	}
	if ready >= need {
		d.Status.UnreadySince = nil
		return d
	}
	limit := in.UnreadyLimit
	if limit <= 0 {
		limit = DefaultUnreadyLimit
	}
	since := in.Now
	if st.UnreadySince != nil {
		since = *st.UnreadySince
	}
	if in.Now.Sub(since) > limit {
		return rollback(in, contract.ReasonNotReady, fmt.Sprintf("canary had %d of the %d Ready pods its %d%% of traffic needs for more than %s",
			ready, need, st.Weight, limit))
	}
	d.Status.UnreadySince = &since
	if left := since.Add(limit).Sub(in.Now) + time.Millisecond; d.RequeueAfter <= 0 || d.RequeueAfter > left {
		d.RequeueAfter = left
	}
	return d
}

// carriesTraffic reports whether the canary serves user traffic at a step, a
// manual pause or before a blue/green confirmation (before its first weight, the
// readiness deadline covers its pods coming up).
func carriesTraffic(in Input) bool {
	switch in.Status.Phase {
	case contract.Progressing, contract.Paused, contract.PendingConfirmation:
		return in.Status.Weight > 0
	}
	return false
}
