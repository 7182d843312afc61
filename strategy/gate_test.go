package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/internal/status"
)

func TestGateDueOnlyAfterIntervalSinceStepStarted(t *testing.T) {
	started := t0
	cases := []struct {
		name    string
		phase   status.Phase
		started *time.Time
		elapsed time.Duration
		want    bool
	}{
		{"pods still coming up", status.Progressing, nil, time.Hour, false},
		{"just started", status.Progressing, &started, 0, false},
		{"one second short", status.Progressing, &started, time.Minute - time.Second, false},
		{"exactly one interval", status.Progressing, &started, time.Minute, true},
		{"well past", status.Progressing, &started, 10 * time.Minute, true},
		{"paused", status.Paused, &started, 10 * time.Minute, false},
		{"promoting", status.Promoting, &started, 10 * time.Minute, false},
		{"rolling back", status.RollingBack, &started, 10 * time.Minute, false},
		{"idle", status.Idle, &started, 10 * time.Minute, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{
				Now:    t0.Add(tc.elapsed),
				Spec:   mustSpec(t),
				Status: status.Status{Phase: tc.phase, StepStartedAt: tc.started},
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
		Status: status.Status{StepStartedAt: &started}}))
}

func TestReducesExposureOnlyOnEnteringRollback(t *testing.T) {
	cases := []struct {
		prev, next status.Phase
		want       bool
	}{
		{status.Progressing, status.RollingBack, true},
		{status.Paused, status.RollingBack, true},
		{status.Promoting, status.RollingBack, true},
		{status.RollingBack, status.RollingBack, false},
		{status.RollingBack, status.RolledBack, false},
		{status.Progressing, status.Progressing, false},
		{status.Promoting, status.Succeeded, false},
	}
	for _, tc := range cases {
		t.Run(string(tc.prev)+" to "+string(tc.next), func(t *testing.T) {
			d := Decision{Status: status.Status{Phase: tc.next}}
			assert.Equal(t, tc.want, d.ReducesExposure(status.Status{Phase: tc.prev}))
		})
	}
}

func TestGateResultBeforeItIsDueIsIgnored(t *testing.T) {
	w := newWorld(t, mustSpec(t))
	w.startRollout("c1")
	d := w.after(59 * time.Second).step()
	assert.Equal(t, time.Second, d.RequeueAfter, "requeue exactly at the gate")
	// A gate result handed in before it is due is ignored.
	r := result(analysis.Fail)
	w.in.Gate = &r
	d = w.step()
	assert.Equal(t, status.Progressing, d.Status.Phase)
	assert.Zero(t, d.Status.Failures)
}
