package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func firing(startsAt time.Time) *Alert {
	return &Alert{Name: "HighErrorRate", StartsAt: startsAt,
		Labels: map[string]string{"alertname": "HighErrorRate", "namespace": "default", "deployment": "web", "severity": "critical"}}
}

func TestAlertDuringRolloutRollsBackWithAlertDetails(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *world)
	}{
		{"progressing at a step", func(w *world) {}},
		{"paused by an operator", func(w *world) { w.command(contract.Pause).step() }},
		{"waiting for the next step's pods", func(w *world) {
			w.passStep()
			w.noCanary()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, mustSpec(t))
			w.startRollout("c1")
			tt.setup(w)
			w.after(30 * time.Second)
			w.in.Alert = firing(w.in.Now.Add(-5 * time.Second))
			d := w.step()
			assert.Equal(t, contract.RollingBack, d.Status.Phase)
			assert.Equal(t, contract.ReasonAlert, d.Status.Reason)
			assert.Equal(t, 0, d.Status.Weight)
			assert.True(t, d.Split.AllStable())
			assert.Equal(t, int32(0), d.CanaryReplicas)
			assert.True(t, d.ReducesExposure(w.prev), "persisted before traffic moves")
			assert.Contains(t, d.Status.Message, "alert HighErrorRate {deployment=web, namespace=default, severity=critical}")
			assert.Contains(t, d.Status.Message, stamp(w.in.Now.Add(-5*time.Second)))
			assert.Equal(t, []string{contract.ReasonAlert}, reasons(d.Events))
			assert.Empty(t, d.AlertIgnored)
			assert.False(t, d.KeepAlert)
		})
	}
}

// Prometheus' clock may run behind the daemon's: an alert that started just after
// the rollout by Prometheus' clock carries a startsAt a little before the rollout's
// start by the daemon's, and still rolls back.
func TestAlertStampedByASlowerClockStillRollsBack(t *testing.T) {
	for _, skew := range []time.Duration{time.Second, 10 * time.Second, AlertClockSkew} {
		w := newWorld(t, mustSpec(t))
		w.startRollout("c1")
		w.after(5 * time.Second)
		w.in.Alert = firing(w.in.Status.StartedAt.Add(-skew))
		d := w.step()
		assert.Equal(t, contract.RollingBack, d.Status.Phase, "Prometheus' clock %s behind", skew)
		assert.Empty(t, d.AlertIgnored)
	}
}

func TestAlertIgnoredDuringRolloutLeavesTheRolloutAlone(t *testing.T) {
	tests := []struct {
		name  string
		spec  []string
		alert func(now, started time.Time) *Alert
		why   string
	}{
		{"fired before this rollout began", nil,
			func(_, started time.Time) *Alert { return firing(started.Add(-time.Minute)) }, "before the rollout of revision c1 began"},
		{"fired just beyond the clock skew tolerance before it", nil,
			func(_, started time.Time) *Alert { return firing(started.Add(-AlertClockSkew - time.Second)) }, "before the rollout"},
		{"alert rollback disabled", []string{contract.KeyAlertRollback, "false"},
			func(now, _ time.Time) *Alert { return firing(now) }, "alert-driven rollback is disabled"},
		{"selector mismatch", []string{contract.KeyAlertSelector, "severity=page"},
			func(now, _ time.Time) *Alert { return firing(now) }, "do not match rolloutd.io/alert-selector"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, mustSpec(t, tt.spec...))
			w.startRollout("c1")
			require.NotNil(t, w.in.Status.StartedAt)
			w.after(10 * time.Second)
			w.in.Alert = tt.alert(w.in.Now, *w.in.Status.StartedAt)
			d := w.step()
			assert.Equal(t, contract.Progressing, d.Status.Phase)
			assert.Positive(t, d.Status.Weight)
			assert.Contains(t, d.AlertIgnored, tt.why)
			assert.Empty(t, d.Events)
		})
	}
}

func TestAlertSelectorMatchRollsBack(t *testing.T) {
	w := newWorld(t, mustSpec(t, contract.KeyAlertSelector, "severity=critical"))
	w.startRollout("c1")
	w.in.Alert = firing(w.in.Now)
	assert.Equal(t, contract.RollingBack, w.step().Status.Phase)
}

func TestAlertDuringPromotionRollsBackAtOnce(t *testing.T) {
	promoting := func(t *testing.T) *world {
		w := newWorld(t, mustSpec(t, contract.KeySteps, "50"))
		w.startRollout("c1")
		d := w.passStep()
		require.Equal(t, contract.Promoting, d.Status.Phase)
		return w
	}
	t.Run("stable still paused: as during the steps", func(t *testing.T) {
		w := promoting(t)
		w.in.Stable.Paused = true
		w.in.Alert = firing(w.in.Now)
		d := w.step()
		require.Equal(t, contract.RollingBack, d.Status.Phase)
		assert.Equal(t, contract.ReasonAlert, d.Status.Reason)
		assert.Equal(t, 0, d.Split.CanaryWeight)
		assert.Equal(t, int32(0), d.CanaryReplicas)
		assert.Equal(t, KeepPaused, d.Stable, "the stable never rolls the revision out")
		assert.Empty(t, d.Status.Restore)
		assert.False(t, d.KeepAlert)
		assert.True(t, d.ReducesExposure(w.prev))
	})
	t.Run("stable rolling it out: restore the previous template", func(t *testing.T) {
		w := promoting(t)
		w.in.Stable.Running, w.in.Stable.RolledOut, w.in.Stable.Previous = "c1", false, "s1"
		w.in.Alert = firing(w.in.Now)
		d := w.step()
		require.Equal(t, contract.RollingBack, d.Status.Phase)
		assert.Equal(t, "s1", d.Status.Restore)
		assert.Equal(t, "c1", d.Status.FailedRevision)
		assert.Equal(t, Resume, d.Stable)
		assert.Equal(t, int32(0), d.CanaryReplicas)
		assert.Equal(t, 0, d.Split.CanaryWeight)
		assert.Contains(t, d.Status.Message, "restoring revision s1")

		w.in.Stable.Template, w.in.Stable.Running, w.in.Stable.RolledOut = "s1", "s1", true
		w.noCanary()
		assert.Equal(t, contract.RolledBack, w.step().Status.Phase)
	})
}

// promoted is a world where revision c1 was promoted at t0 over s1.
func promoted(t *testing.T, kv ...string) *world {
	w := newWorld(t, mustSpec(t, kv...))
	started := t0.Add(-10 * time.Minute)
	w.in.Status = contract.Status{Phase: contract.Succeeded, Reason: contract.ReasonPromoted, Revision: "c1", StableRevision: "c1",
		LastTransitionTime: t0, StartedAt: &started}
	w.in.Stable = Stable{Template: "c1", Running: "c1", Previous: "s1", Desired: 10, RolledOut: true}
	return w
}

func TestAlertAfterPromotionWithinWindowRestoresThePreviousRevision(t *testing.T) {
	w := promoted(t)
	w.after(5 * time.Minute)
	w.in.Alert = firing(w.in.Now.Add(-time.Second))
	d := w.step()
	require.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, contract.ReasonAlert, d.Status.Reason)
	assert.Equal(t, "s1", d.Status.Restore)
	assert.Equal(t, "c1", d.Status.FailedRevision)
	assert.Equal(t, Resume, d.Stable, "the stable rolls back at once, without a canary")
	assert.Equal(t, int32(0), d.CanaryReplicas)
	assert.True(t, d.ReducesExposure(w.prev), "template and status are written first, in one update")
	assert.Contains(t, d.Status.Message, "restoring revision s1")
	assert.Contains(t, d.Status.Message, "HighErrorRate")
	assert.Equal(t, []string{contract.ReasonAlert}, reasons(d.Events))

	// The controller wrote s1's template; the stable has not rolled it out yet.
	w.in.Stable.Template = "s1"
	w.in.Stable.RolledOut = false
	d = w.after(time.Second).step()
	assert.Equal(t, contract.RollingBack, d.Status.Phase)
	assert.Equal(t, Resume, d.Stable)
	assert.Empty(t, d.Events)

	w.in.Stable.Running, w.in.Stable.RolledOut = "s1", true
	d = w.after(time.Second).step()
	assert.Equal(t, contract.RolledBack, d.Status.Phase)
	assert.Equal(t, contract.ReasonAlert, d.Status.Reason)
	assert.Equal(t, KeepPaused, d.Stable, "paused again once rolled back")
	assert.Equal(t, "s1", d.Status.StableRevision)
	assert.Empty(t, d.Status.Restore)
	assert.Equal(t, []string{contract.ReasonRolledBack}, reasons(d.Events))

	d = w.after(time.Hour).step()
	assert.Equal(t, contract.RolledBack, d.Status.Phase, "nothing to release: the template is what runs")
	assert.Empty(t, d.Events)

	d = w.template("c1").step()
	assert.Equal(t, contract.RolledBack, d.Status.Phase, "the rolled-back revision is not retried")
}

func TestRestoreInterruptedByANewTemplateNeverRollsItOutUnvetted(t *testing.T) {
	w := promoted(t)
	w.in.Alert = firing(w.in.Now)
	w.step()
	w.template("c2")
	d := w.after(time.Second).step()
	assert.Equal(t, contract.RolledBack, d.Status.Phase)
	assert.Equal(t, KeepPaused, d.Stable)
	assert.Contains(t, d.Status.Message, "interrupted")
	d = w.after(time.Second).step()
	assert.Equal(t, contract.Progressing, d.Status.Phase, "the new template gets a canary")
	assert.Equal(t, "c2", d.Status.Revision)
}

func TestAlertAfterPromotionIgnored(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *world)
		why   string
	}{
		{"outside the rollback window", func(w *world) { w.after(31 * time.Minute) }, "outside the rollback window of 30m0s"},
		{"custom window", func(w *world) {
			w.in.Spec = mustSpec(w.t, contract.KeyRollbackWindow, "2m")
			w.after(3 * time.Minute)
		}, "outside the rollback window of 2m0s"},
		{"no previous revision kept", func(w *world) { w.in.Stable.Previous = "" }, "no revision before c1"},
		{"template changed since promotion", func(w *world) { w.template("c2") }, "the pod template changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := promoted(t)
			tt.setup(w)
			w.in.Alert = firing(w.in.Now)
			before := w.in.Status
			d := w.step()
			assert.Contains(t, d.AlertIgnored, tt.why)
			assert.NotEqual(t, contract.RollingBack, d.Status.Phase)
			assert.Empty(t, d.Status.Restore)
			assert.Equal(t, KeepPaused, d.Stable)
			if w.in.Stable.Template == before.Revision {
				assert.True(t, contract.Equal(before, d.Status), "status unchanged: got %+v", d.Status)
				assert.Empty(t, d.Events)
			}
		})
	}
}

func TestAlertWithoutRolloutIsIgnoredWithAReason(t *testing.T) {
	for _, ph := range []contract.Phase{contract.Idle, contract.RolledBack, contract.Aborted} {
		t.Run(string(ph), func(t *testing.T) {
			w := newWorld(t, mustSpec(t))
			w.in.Status.Phase = ph
			w.in.Alert = firing(t0)
			d := w.step()
			assert.Equal(t, ph, d.Status.Phase)
			assert.Contains(t, d.AlertIgnored, "no rollout in progress")
		})
	}
}

func TestLabelSummaryIsBounded(t *testing.T) {
	labels := map[string]string{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		labels[k] = string(make([]byte, 40))
	}
	s := labelSummary(labels)
	assert.LessOrEqual(t, len(s), maxLabelSummary+10)
	assert.Equal(t, "", labelSummary(map[string]string{"alertname": "X"}))
}
