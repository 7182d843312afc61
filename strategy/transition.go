package strategy

import "github.com/rolloutd/rolloutd/strategy/contract"

// Transition says what a decision does to the rollout, so that metrics,
// notifications, Events and the rollback latency read it instead of working it out
// again from phases and reasons. Step and HandBack set it on every decision.
type Transition struct {
	Kind TransitionKind
	// Cause is why the rollout is where the decision leaves it (for a rollback:
	// the gate, a check between gates, an alert, an abort, ...).
	Cause Cause
	// Message is the message of the decision's Event that marks the transition;
	// for a rollback, its first Warning Event (empty when it has none).
	Message string
	// Ended says the rollout leaves an active phase (promoted, rolled back,
	// aborted).
	Ended bool
}

// TransitionKind names the moments a rollout is told about.
type TransitionKind string

// Transition kinds. A decision that changes none of them is NoTransition.
const (
	NoTransition     TransitionKind = ""
	Started          TransitionKind = "Started"          // a revision's canary starts (or starts again)
	AwaitingApproval TransitionKind = "AwaitingApproval" // a gate passed at a pause-at step, or a blue/green switch waits
	Promoted         TransitionKind = "Promoted"         // the revision is the stable's
	RollbackStarted  TransitionKind = "RollbackStarted"  // traffic leaves the canary for good
)

// Cause is why a rollout is in its state, read from the status reason.
type Cause string

// Causes. CauseOther covers every reason that is not a rollback's cause.
const (
	CauseOther     Cause = ""
	CauseGate      Cause = "gate"      // a gate failed
	CauseCheck     Cause = "check"     // the continuous judge failed a check between gates
	CauseAlert     Cause = "alert"     // Alertmanager fired for the service
	CauseAbort     Cause = "abort"     // the operator aborted
	CauseReadiness Cause = "readiness" // the canary lacked Ready pods past its bound
	CauseRouting   Cause = "routing"   // the routing object cannot carry the canary
)

var causes = map[string]Cause{
	contract.ReasonGateFailed:    CauseGate,
	contract.ReasonCheckFailed:   CauseCheck,
	contract.ReasonAlert:         CauseAlert,
	contract.ReasonAborted:       CauseAbort,
	contract.ReasonNotReady:      CauseReadiness,
	contract.ReasonRoutingBroken: CauseRouting,
}

// withTransition sets what d does to a rollout whose status was prev.
func withTransition(prev contract.Status, d Decision) Decision {
	next := d.Status
	t := Transition{Cause: causes[next.Reason], Ended: prev.Phase.Active() && !next.Phase.Active()}
	if d.ReducesExposure(prev) {
		t.Kind = RollbackStarted
		for _, e := range d.Events {
			if e.Warning {
				t.Message = e.Message
				break
			}
		}
		d.Transition = t
		return d
	}
	for _, e := range d.Events {
		switch {
		case next.Phase == contract.Progressing && (e.Reason == contract.ReasonProgressing || e.Reason == contract.ReasonRestarted) &&
			prev.Revision != next.Revision:
			t.Kind = Started
		case e.Reason == contract.ReasonAwaitingApproval, next.Phase == contract.PendingConfirmation && prev.Phase != contract.PendingConfirmation:
			t.Kind = AwaitingApproval
		case e.Reason == contract.ReasonPromoted:
			t.Kind = Promoted
		default:
			continue
		}
		t.Message = e.Message
		break
	}
	d.Transition = t
	return d
}
