package contract

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func statuses(s Status) map[string]metav1.ConditionStatus {
	out := map[string]metav1.ConditionStatus{}
	for _, c := range s.Conditions {
		out[c.Type] = c.Status
	}
	return out
}

func TestConditionsFollowThePhase(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pass := []CheckResult{{Name: "cpu<=1.3x", Verdict: Pass}}
	fail := []CheckResult{{Name: "error-rate<=1%+baseline", Verdict: Fail, Reason: "too many 5xx"}}
	T, F, U := metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown
	cases := []struct {
		name string
		st   Status
		want map[string]metav1.ConditionStatus
	}{
		{"idle", Status{Phase: Idle}, map[string]metav1.ConditionStatus{
			ConditionProgressing: F, ConditionHealthy: U, ConditionPaused: F, ConditionPromoted: U}},
		{"progressing after a passed gate", Status{Phase: Progressing, Checks: pass}, map[string]metav1.ConditionStatus{
			ConditionProgressing: T, ConditionHealthy: T, ConditionPaused: F, ConditionPromoted: U}},
		{"waiting for approval", Status{Phase: Paused, Reason: "AwaitingApproval", Checks: pass}, map[string]metav1.ConditionStatus{
			ConditionProgressing: T, ConditionHealthy: T, ConditionPaused: T, ConditionPromoted: U}},
		{"promoted", Status{Phase: Succeeded, Reason: "Promoted", Checks: pass}, map[string]metav1.ConditionStatus{
			ConditionProgressing: F, ConditionHealthy: T, ConditionPaused: F, ConditionPromoted: T}},
		{"rolled back", Status{Phase: RolledBack, Reason: "GateFailed", Checks: fail}, map[string]metav1.ConditionStatus{
			ConditionProgressing: F, ConditionHealthy: F, ConditionPaused: F, ConditionPromoted: F}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.st.WithConditions(nil, 3, now)
			assert.Equal(t, c.want, statuses(got))
			for _, cond := range got.Conditions {
				assert.NotEmpty(t, cond.Reason, cond.Type)
				assert.Equal(t, int64(3), cond.ObservedGeneration)
			}
		})
	}
}

func TestConditionTimesMoveOnlyWhenTheyChange(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Minute)
	first := Status{Phase: Progressing, Reason: "Progressing", Message: "step 1"}.WithConditions(nil, 1, t1)

	same := Status{Phase: Progressing, Reason: "Progressing", Message: "step 1"}.WithConditions(first.Conditions, 2, t2)
	assert.Equal(t, first.Conditions, same.Conditions, "nothing changed: same times and generation")

	moved := Status{Phase: Progressing, Reason: "StepAdvanced", Message: "step 2"}.WithConditions(first.Conditions, 2, t2)
	p := moved.Condition(ConditionProgressing)
	require.NotNil(t, p)
	assert.Equal(t, t1, p.LastTransitionTime.Time.UTC(), "status stayed True: transition time kept")
	assert.Equal(t, int64(2), p.ObservedGeneration, "reason changed: generation refreshed")

	done := Status{Phase: Succeeded, Reason: "Promoted"}.WithConditions(moved.Conditions, 3, t2)
	assert.Equal(t, t2, done.Condition(ConditionProgressing).LastTransitionTime.Time.UTC())
	assert.Equal(t, metav1.ConditionFalse, done.Condition(ConditionProgressing).Status)
}

func TestConditionsSurviveTheAnnotation(t *testing.T) {
	st := Status{Phase: Paused, Reason: "Paused"}.WithConditions(nil, 4, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	raw, err := st.Encode()
	require.NoError(t, err)
	assert.Contains(t, raw, `"conditions":[{"type":"Progressing","status":"True","observedGeneration":4`)
	back, err := Read(map[string]string{StatusKey: raw})
	require.NoError(t, err)
	assert.True(t, Equal(st, back))
}
