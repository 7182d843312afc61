package controller

import (
	"time"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Causes of rolloutd_rollback_latency_seconds.
const (
	causeGate  = "gate"
	causeAlert = "alert"
)

// evidence is when this reconcile had what can start a rollback: a gate that did
// not pass (just evaluated) or a firing alert's mark (just read). Once the
// decision rolls back on it, the write that takes traffic off the canary is timed
// from that instant.
type evidence struct {
	gate, alert time.Time
	// cause is set while a rollback started on this evidence awaits its
	// traffic-0 write.
	cause string
}

func (r *rollout) sawGate(res analysis.Result) {
	if res.Verdict != contract.Pass {
		r.evidence.gate = time.Now()
	}
}

func (r *rollout) sawAlert() { r.evidence.alert = time.Now() }

// timeRollback arms the latency measurement when the decision starts a rollback
// of a canary because of the gate or the alert this reconcile saw. An alert that
// restores a promoted revision has no canary traffic to take away.
func (r *rollout) timeRollback(d strategy.Decision) {
	if d.Transition.Kind != strategy.RollbackStarted || d.Status.Restore != "" {
		return
	}
	switch {
	case d.Transition.Cause == strategy.CauseGate && !r.evidence.gate.IsZero():
		r.evidence.cause = causeGate
	case d.Transition.Cause == strategy.CauseAlert && !r.evidence.alert.IsZero():
		r.evidence.cause = causeAlert
	}
}

// trafficOff observes the rollback latency once, after the write that gave the
// canary no traffic succeeded. A rollback whose first attempt fails is not
// observed (its retry runs in a later reconcile, without the evidence).
func (r *rollout) trafficOff() {
	at := r.evidence.gate
	switch r.evidence.cause {
	case "":
		return
	case causeAlert:
		at = r.evidence.alert
	}
	r.c.Metrics.RollbackLatency.WithLabelValues(r.evidence.cause).Observe(time.Since(at).Seconds())
	r.evidence.cause = ""
}
