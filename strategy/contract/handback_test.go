package contract

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A batch status's plan keeps the total, the user's spec.paused and only the
// annotations a hand-back reads, and survives the annotation round trip.
func TestPlanOfABatchStatusRoundTrips(t *testing.T) {
	st := Status{Phase: Paused, UserPaused: true, Batch: &BatchStatus{Desired: 10, Stable: 5, Canary: 5},
		Spec: map[string]string{KeyEnabled: "true", KeyStrategy: "batch", KeyMaxSurge: "3", KeyInterval: "5s", KeyPauseAt: "1"}}
	p, ok := PlanOf(st)
	require.True(t, ok)
	assert.Equal(t, HandBackPlan{Desired: 10, UserPaused: true, Spec: map[string]string{KeyStrategy: "batch", KeyMaxSurge: "3"}}, p)
	got, ok, err := ReadHandBackPlan(map[string]string{HandBackAnnotation: p.Encode()})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, p, got)
	assert.Equal(t, p.Encode(), got.Encode(), "the same plan encodes the same: no needless write")
}

func TestPlanOfAStatusWithoutBatchIsNone(t *testing.T) {
	_, ok := PlanOf(Status{Phase: Progressing, Weight: 10})
	assert.False(t, ok)
}

func TestReadHandBackPlan(t *testing.T) {
	cases := []struct {
		name    string
		ann     map[string]string
		ok      bool
		wantErr string
	}{
		{name: "absent (a copy made before plans were kept)", ann: map[string]string{RevisionAnnotation: "abc"}},
		{name: "malformed", ann: map[string]string{HandBackAnnotation: "{desired:"}, wantErr: HandBackAnnotation},
		{name: "no total", ann: map[string]string{HandBackAnnotation: `{"desired":0}`}, wantErr: "at least 1"},
		{name: "valid", ann: map[string]string{HandBackAnnotation: `{"desired":3}`}, ok: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, ok, err := ReadHandBackPlan(tc.ann)
			assert.Equal(t, tc.ok, ok)
			if tc.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.wantErr)
			}
		})
	}
}

// The plan's spec is a batch spec with its chunking; one that no longer parses
// gives the batch defaults rather than nothing.
func TestHandBackPlanParseSpec(t *testing.T) {
	sp := HandBackPlan{Desired: 4, Spec: map[string]string{KeyStrategy: "batch", KeyRollingOrder: "delete-first", KeyMaxUnavailable: "1"}}.ParseSpec("web")
	assert.Equal(t, Batch, sp.Strategy)
	assert.Equal(t, DeleteFirst, sp.RollingOrder)
	assert.Equal(t, Quantity{Value: 1}, sp.MaxUnavailable)
	assert.Equal(t, "web", sp.Service)

	bad := HandBackPlan{Desired: 4, Spec: map[string]string{KeyStrategy: "batch", KeyMaxSurge: "-"}}.ParseSpec("web")
	assert.Equal(t, Batch, bad.Strategy)
	assert.Equal(t, Quantity{Value: 25, Percent: true}, bad.MaxSurge)
}
