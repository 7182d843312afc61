package analysis

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// After a blue/green switch the stable pods serve nothing, so a gate measures them
// over the window before the switch: only stable-side selectors carry the offset.
func TestBaselineOffsetShiftsOnlyTheStableSide(t *testing.T) {
	target := testTarget()
	target.BaselineOffset = 90 * time.Second
	for _, tc := range []struct {
		name  string
		query func(side) (string, error)
		want  string
	}{
		{"requests by status", func(s side) (string, error) { return requestQuery(target, "statuses", s, 0) },
			`[300s] offset 90s))`},
		{"latency", func(s side) (string, error) { return requestQuery(target, "latency", s, 0.99) },
			`[300s] offset 90s)))`},
		{"cpu", func(s side) (string, error) { return podQuery(target, "cpu", s) }, `[300s] offset 90s)))`},
		{"memory", func(s side) (string, error) { return podQuery(target, "memory", s) }, `"} offset 90s))`},
		{"load", func(s side) (string, error) { return podQuery(target, "load", s) }, `[300s] offset 90s)))`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stable, err := tc.query(stableSide)
			require.NoError(t, err)
			assert.Contains(t, stable, tc.want)
			canary, err := tc.query(canarySide)
			require.NoError(t, err)
			assert.NotContains(t, canary, "offset")
		})
	}
}

func TestNoBaselineOffsetRendersNoOffset(t *testing.T) {
	target := testTarget()
	target.BaselineOffset = 500 * time.Millisecond // below Prometheus' resolution here
	q, err := requestQuery(target, "statuses", stableSide, 0)
	require.NoError(t, err)
	assert.NotContains(t, q, "offset")
}
