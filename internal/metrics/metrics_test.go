package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func f(v float64) *float64 { return &v }

func TestMetricsFollowTransitionsAndForget(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, func() int { return 3 })
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

	m.Describe("shop", "web", Info{Revision: "r1", Strategy: "canary", Router: "nginx"})
	m.Describe("shop", "web", Info{Revision: "r2", Strategy: "canary", Router: "nginx"})
	m.Observe("shop", "web", contract.Status{Phase: contract.Progressing, Weight: 20, Step: 2, Checks: []contract.CheckResult{
		{Name: "error-rate<=1%+baseline", Value: f(0.02), Baseline: f(0.001), Verdict: contract.Fail},
		{Name: "alerts", Verdict: contract.Pass},
	}})
	m.Describe("shop", "api", Info{Revision: "a1", Strategy: "canary", Router: "service"})

	assert.Equal(t, 2, testutil.CollectAndCount(m.Info), "one info series per Deployment, the old revision's gone")
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Info.WithLabelValues("shop", "web", "r2", "canary", "nginx")))
	assert.Equal(t, 0.02, testutil.ToFloat64(m.CheckValue.WithLabelValues("shop", "web", "error-rate<=1%+baseline")))
	assert.Equal(t, 0.001, testutil.ToFloat64(m.CheckBaseline.WithLabelValues("shop", "web", "error-rate<=1%+baseline")))
	assert.Equal(t, 1, testutil.CollectAndCount(m.CheckValue), "a check without a value has no value series")
	assert.Equal(t, 6, testutil.CollectAndCount(m.CheckVerdict), "two checks times three verdicts")
	assert.Equal(t, 1.0, testutil.ToFloat64(m.CheckVerdict.WithLabelValues("shop", "web", "error-rate<=1%+baseline", "Fail")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Phase.WithLabelValues("shop", "web", "Progressing")))
	assert.Equal(t, 0.0, testutil.ToFloat64(m.Phase.WithLabelValues("shop", "web", "Idle")))
	assert.Equal(t, 20.0, testutil.ToFloat64(m.Weight.WithLabelValues("shop", "web")))

	// The next gate drops a check: its series go.
	m.Observe("shop", "web", contract.Status{Phase: contract.Progressing, Weight: 30, Step: 3, Checks: []contract.CheckResult{
		{Name: "alerts", Verdict: contract.Pass}}})
	assert.Zero(t, testutil.CollectAndCount(m.CheckValue))
	assert.Equal(t, 3, testutil.CollectAndCount(m.CheckVerdict))

	m.Finished(contract.Status{Phase: contract.RolledBack, StartedAt: &start}, start.Add(90*time.Second))
	assert.Equal(t, 1, testutil.CollectAndCount(m.Duration), "observed when the rollout ended")
	assert.Equal(t, 1, testutil.CollectAndCount(m.Duration.WithLabelValues("RolledBack").(prometheus.Histogram)))

	m.Forget("shop", "web")
	assert.Equal(t, 1, testutil.CollectAndCount(m.Info), "only api's")
	assert.Zero(t, testutil.CollectAndCount(m.CheckVerdict))
	assert.Zero(t, testutil.CollectAndCount(m.Phase))
	assert.Zero(t, testutil.CollectAndCount(m.Weight))
	assert.Zero(t, testutil.CollectAndCount(m.Step))
}

func TestMetricsPassPromlint(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, func() int { return 0 })
	m.Describe("shop", "web", Info{Revision: "r1", Strategy: "canary", Router: "nginx"})
	m.Observe("shop", "web", contract.Status{Phase: contract.Progressing, Checks: []contract.CheckResult{
		{Name: "cpu<=1.3x", Value: f(0.2), Baseline: f(0.2), Verdict: contract.Pass}}})
	m.GateDuration.WithLabelValues("Pass").Observe(0.1)
	m.RollbackLatency.WithLabelValues("gate").Observe(0.05)
	m.Reconcile.WithLabelValues("ok").Observe(0.01)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	require.NoError(t, err)
	var msgs []string
	for _, p := range problems {
		msgs = append(msgs, p.Metric+": "+p.Text)
	}
	assert.Empty(t, problems, strings.Join(msgs, "\n"))
	names := []string{}
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	for _, want := range []string{"rolloutd_rollout_info", "rolloutd_check_value", "rolloutd_check_baseline",
		"rolloutd_check_verdict", "rolloutd_gate_duration_seconds", "rolloutd_rollout_phase",
		"rolloutd_rollback_latency_seconds"} {
		assert.Contains(t, names, want)
	}
}
