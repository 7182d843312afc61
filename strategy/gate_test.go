package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func TestGateDueOnlyAfterIntervalSinceStepStarted(t *testing.T) {
	started := t0
	cases := []struct {
		name    string
		phase   contract.Phase
		started *time.Time
		elapsed time.Duration
		want    bool
	}{
		{"pods still coming up", contract.Progressing, nil, time.Hour, false},
		{"just started", contract.Progressing, &started, 0, false},
		{"one second short", contract.Progressing, &started, time.Minute - time.Second, false},
		{"exactly one interval", contract.Progressing, &started, time.Minute, true},
		{"well past", contract.Progressing, &started, 10 * time.Minute, true},
		{"paused", contract.Paused, &started, 10 * time.Minute, false},
		{"promoting", contract.Promoting, &started, 10 * time.Minute, false},
		{"rolling back", contract.RollingBack, &started, 10 * time.Minute, false},
		{"idle", contract.Idle, &started, 10 * time.Minute, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{
				Now:    t0.Add(tc.elapsed),
				Spec:   mustSpec(t),
				Status: contract.Status{Phase: tc.phase, StepStartedAt: tc.started},
			}
			assert.Equal(t, tc.want, GateDue(in))
		})
	}
}

func TestGateWindowSpansFromStepStartToNow(t *testing.T) {
	sp := mustSpec(t, "rolloutd.io/interval", "2m")
	assert.Equal(t, 2*time.Minute, GateWindow(Input{Spec: sp, Now: t0}), "no start yet: one interval")
	started := t0
	assert.Equal(t, 150*time.Second, GateWindow(Input{Spec: sp, Now: t0.Add(150 * time.Second),
		Status: contract.Status{StepStartedAt: &started}}))
}

func TestReducesExposureOnlyOnEnteringRollback(t *testing.T) {
	cases := []struct {
		prev, next contract.Phase
		want       bool
	}{
		{contract.Progressing, contract.RollingBack, true},
		{contract.Paused, contract.RollingBack, true},
		{contract.Promoting, contract.RollingBack, true},
		{contract.RollingBack, contract.RollingBack, false},
		{contract.RollingBack, contract.RolledBack, false},
		{contract.Progressing, contract.Progressing, false},
		{contract.Promoting, contract.Succeeded, false},
	}
	for _, tc := range cases {
		t.Run(string(tc.prev)+" to "+string(tc.next), func(t *testing.T) {
			d := Decision{Status: contract.Status{Phase: tc.next}}
			assert.Equal(t, tc.want, d.ReducesExposure(contract.Status{Phase: tc.prev}))
		})
	}
}

func TestGateResultBeforeItIsDueIsIgnored(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.startRollout("c1")
	d := w.after(59 * time.Second).step()
	assert.Equal(t, time.Second, d.RequeueAfter, "requeue exactly at the gate")
	// A gate result handed in before it is due is ignored.
	r := result(contract.Fail)
	w.in.Gate = &r
	d = w.step()
	assert.Equal(t, contract.Progressing, d.Status.Phase)
	assert.Zero(t, d.Status.Failures)
}
