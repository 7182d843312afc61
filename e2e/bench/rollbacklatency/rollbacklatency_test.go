package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGateTimesReadsTheNamespacesGateLines(t *testing.T) {
	log := strings.Join([]string{
		"2026-11-27T10:47:48.809Z\tINFO\tcontroller\tcontroller/sync.go:210\tgate evaluated\t" +
			`{"namespace": "ns1", "deployment": "app0001", "verdict": "Fail", "window": "20s"}`,
		"2026-11-27T10:47:49.001Z\tINFO\tcontroller\tcontroller/sync.go:210\tgate evaluated\t" +
			`{"namespace": "other", "deployment": "app0001", "verdict": "Fail"}`,
		"2026-11-27T10:47:50.250Z\tWARN\tcontroller\tcontroller/alert.go:133\talert rollback started\t" +
			`{"namespace": "ns1", "deployment": "app0002"}`,
		"github.com/rolloutd/rolloutd/internal/controller.(*Controller).processNextWorkItem",
		"2026-11-27T10:47:51.500Z\tINFO\tcontroller\tcontroller/sync.go:210\tgate evaluated\t" +
			`{"namespace": "ns1", "deployment": "app0001", "verdict": "Inconclusive"}`,
	}, "\n")
	path := filepath.Join(t.TempDir(), "rolloutd.log")
	require.NoError(t, os.WriteFile(path, []byte(log), 0o600))

	got, err := gateTimes(path, "ns1")
	require.NoError(t, err)
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return v
	}
	assert.Equal(t, map[string][]time.Time{"app0001": {at("2026-11-27T10:47:48.809Z"), at("2026-11-27T10:47:51.5Z")}}, got)
	last, ok := lastBefore(got["app0001"], at("2026-11-27T10:47:51Z"))
	assert.True(t, ok)
	assert.Equal(t, at("2026-11-27T10:47:48.809Z"), last, "the gate that preceded the rollback, not a later one")
	_, ok = lastBefore(got["app0001"], at("2026-11-27T10:47:48Z"))
	assert.False(t, ok)
}

func TestHistogramQuantileInterpolatesWithinABucket(t *testing.T) {
	h := histogram{count: 10, sum: 1.5, bounds: []float64{0.05, 0.1, 0.25, math.Inf(1)}, counts: []float64{2, 6, 10, 10}}
	cases := []struct {
		q, want float64
	}{
		{0.1, 0.025},  // rank 1 of the first bucket's 2, from 0
		{0.5, 0.0875}, // rank 5: 3 of the 4 between 0.05 and 0.1
		{0.99, 0.2463},
	}
	for _, tc := range cases {
		assert.InDelta(t, tc.want, h.quantile(tc.q), 1e-4, "q=%v", tc.q)
	}
	assert.InDelta(t, 0.15, h.mean(), 1e-9)
	assert.True(t, math.IsNaN(histogram{}.quantile(0.5)), "no observation, no quantile")
}

func TestRollbackHistogramsParsesTheDaemonsExposition(t *testing.T) {
	text := `# HELP rolloutd_rollback_latency_seconds x
# TYPE rolloutd_rollback_latency_seconds histogram
rolloutd_rollback_latency_seconds_bucket{cause="gate",le="0.1"} 3
rolloutd_rollback_latency_seconds_bucket{cause="gate",le="+Inf"} 4
rolloutd_rollback_latency_seconds_sum{cause="gate"} 0.7
rolloutd_rollback_latency_seconds_count{cause="gate"} 4
`
	got, err := rollbackHistograms(text)
	require.NoError(t, err)
	require.Contains(t, got, "gate")
	assert.Equal(t, 4.0, got["gate"].count)
	assert.InDelta(t, 0.175, got["gate"].mean(), 1e-9)
	assert.NotContains(t, got, "alert")
}
