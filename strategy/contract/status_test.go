package contract

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadMissingOrEmptyIsTheZeroStatus(t *testing.T) {
	for _, ann := range []map[string]string{nil, {}, {StatusKey: ""}} {
		st, err := Read(ann)
		require.NoError(t, err)
		assert.Equal(t, Status{}, st)
	}
}

func TestReadRejectsMalformedJSON(t *testing.T) {
	_, err := Read(map[string]string{StatusKey: "{phase:"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), StatusKey)
}

func TestEncodeReadRoundTrip(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	v := 0.07
	st := Status{Phase: Progressing, Revision: "c1", StableRevision: "s1", Weight: 20, Step: 2, Steps: 5,
		Message: "step 2/5", Checks: []CheckResult{{Name: "error-rate", Value: &v, Verdict: Fail}},
		LastTransitionTime: at, StepStartedAt: &at, Failures: 1, UserPaused: true, Approved: 1}
	raw, err := st.Encode()
	require.NoError(t, err)
	for _, field := range []string{`"phase":"Progressing"`, `"revision":"c1"`, `"weight":20`, `"step":2`,
		`"message":"step 2/5"`, `"checks":[`, `"lastTransitionTime":"2025-03-01T12:00:00Z"`} {
		assert.Contains(t, raw, field, "the contract's fields are present")
	}
	back, err := Read(map[string]string{StatusKey: raw})
	require.NoError(t, err)
	assert.True(t, Equal(st, back))
	assert.Equal(t, st.Checks, back.Checks)
}

func TestEqualIgnoresNothingThatIsWritten(t *testing.T) {
	a := Status{Phase: Idle, Weight: 0}
	assert.True(t, Equal(a, a))
	b := a
	b.Message = "changed"
	assert.False(t, Equal(a, b))
	c := a
	c.LastTransitionTime = time.Unix(1, 0)
	assert.False(t, Equal(a, c))
}

func TestActivePhases(t *testing.T) {
	active := map[Phase]bool{Progressing: true, Paused: true, PendingConfirmation: true, Promoting: true, RollingBack: true}
	for _, p := range []Phase{"", Idle, Progressing, Paused, PendingConfirmation, Promoting, Succeeded, RollingBack, RolledBack, Aborted} {
		assert.Equal(t, active[p], p.Active(), "phase %q", p)
	}
}
