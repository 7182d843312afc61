package strategy

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func TestTransitionForEachMomentPeopleAreToldAbout(t *testing.T) {
	progressing := contract.Status{Phase: contract.Progressing, Revision: "r2", Weight: 10}
	ev := func(reason string, warning bool) []Event {
		return []Event{{Reason: reason, Warning: warning, Message: reason + " message"}}
	}
	cases := []struct {
		name   string
		prev   contract.Status
		next   Decision
		want   TransitionKind
		wanted bool
	}{
		{"new revision started", contract.Status{Phase: contract.Idle, Revision: "r1"},
			Decision{Status: progressing, Events: ev(contract.ReasonProgressing, false)}, Started, true},
		{"step advanced is not news", progressing,
			Decision{Status: progressing, Events: ev(contract.ReasonStepAdvanced, false)}, "", false},
		{"pause-at step waits for approval", progressing,
			Decision{Status: contract.Status{Phase: contract.Paused, Revision: "r2"}, Events: ev(contract.ReasonAwaitingApproval, false)}, AwaitingApproval, true},
		{"blue/green waits for confirmation", progressing,
			Decision{Status: contract.Status{Phase: contract.PendingConfirmation, Revision: "r2"}, Events: ev(contract.ReasonStepAdvanced, false)}, AwaitingApproval, true},
		{"promoted", contract.Status{Phase: contract.Promoting, Revision: "r2"},
			Decision{Status: contract.Status{Phase: contract.Succeeded, Revision: "r2"}, Events: ev(contract.ReasonPromoted, false)}, Promoted, true},
		{"rollback started by an alert", progressing,
			Decision{Status: contract.Status{Phase: contract.RollingBack, Revision: "r2"}, Events: ev(contract.ReasonAlert, true)}, RollbackStarted, true},
		{"rollback finishing is not news twice", contract.Status{Phase: contract.RollingBack, Revision: "r2"},
			Decision{Status: contract.Status{Phase: contract.RolledBack, Revision: "r2"}, Events: ev(contract.ReasonRolledBack, true)}, "", false},
		{"no events", progressing, Decision{Status: progressing}, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := withTransition(c.prev, c.next).Transition
			assert.Equal(t, c.wanted, tr.Kind != NoTransition)
			assert.Equal(t, c.want, tr.Kind)
			if c.wanted {
				assert.Equal(t, c.next.Events[0].Message, tr.Message)
			}
		})
	}
}

// A rollout ends once, when it leaves the active phases; a rollback's cause is
// read from its reason.
func TestTransitionEndsOnceAndNamesTheCause(t *testing.T) {
	rollingBack := contract.Status{Phase: contract.RollingBack, Reason: contract.ReasonGateFailed}
	rolledBack := contract.Status{Phase: contract.RolledBack, Reason: contract.ReasonRolledBack}
	assert.True(t, withTransition(rollingBack, Decision{Status: rolledBack}).Transition.Ended)
	assert.False(t, withTransition(rolledBack, Decision{Status: rolledBack}).Transition.Ended, "not twice")
	started := withTransition(contract.Status{Phase: contract.Progressing}, Decision{Status: rollingBack})
	assert.Equal(t, RollbackStarted, started.Transition.Kind)
	assert.Equal(t, CauseGate, started.Transition.Cause)
	alert := withTransition(contract.Status{Phase: contract.Promoting},
		Decision{Status: contract.Status{Phase: contract.RollingBack, Reason: contract.ReasonAlert}})
	assert.Equal(t, CauseAlert, alert.Transition.Cause)
}
