package contract

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types of the status annotation's conditions list.
const (
	// ConditionProgressing is True while a rollout is under way.
	ConditionProgressing = "Progressing"
	// ConditionHealthy is the last gate's analysis: True when every check passed,
	// False when one failed, Unknown before any gate or when it was inconclusive.
	ConditionHealthy = "Healthy"
	// ConditionPaused is True while the rollout waits for an operator.
	ConditionPaused = "Paused"
	// ConditionPromoted is True once the revision was promoted, False when it was
	// rolled back or aborted, Unknown while it is being released.
	ConditionPromoted = "Promoted"
)

// WithConditions returns s with its conditions derived from its phase, reason,
// message and checks, carrying over prev's timestamps: lastTransitionTime moves only
// when a condition's status changes (as in Kubernetes), and observedGeneration —
// the Deployment generation the condition was computed from — moves only when its
// status, reason or message changes, so an unchanged rollout is never rewritten
// just because the daemon's own write bumped the generation.
func (s Status) WithConditions(prev []metav1.Condition, generation int64, now time.Time) Status {
	want := s.conditions()
	out := make([]metav1.Condition, 0, len(want))
	for _, c := range want {
		old := find(prev, c.Type)
		switch {
		case old == nil || old.Status != c.Status:
			c.LastTransitionTime, c.ObservedGeneration = metav1.NewTime(now.UTC().Truncate(time.Second)), generation
		case old.Reason != c.Reason || old.Message != c.Message:
			c.LastTransitionTime, c.ObservedGeneration = old.LastTransitionTime, generation
		default:
			c.LastTransitionTime, c.ObservedGeneration = old.LastTransitionTime, old.ObservedGeneration
		}
		out = append(out, c)
	}
	s.Conditions = out
	return s
}

// Condition returns the condition of type t, or nil.
func (s Status) Condition(t string) *metav1.Condition { return find(s.Conditions, t) }

func find(cs []metav1.Condition, t string) *metav1.Condition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

func (s Status) conditions() []metav1.Condition {
	reason := s.Reason
	if reason == "" {
		reason = string(s.Phase)
	}
	cond := func(t string, st metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: t, Status: st, Reason: reason, Message: msg}
	}
	progressing := cond(ConditionProgressing, metav1.ConditionFalse, reason, s.Message)
	if s.Phase.Active() {
		progressing.Status = metav1.ConditionTrue
	}
	paused := cond(ConditionPaused, metav1.ConditionFalse, "NotPaused", "")
	if s.Phase == Paused || s.Phase == PendingConfirmation {
		paused = cond(ConditionPaused, metav1.ConditionTrue, reason, s.Message)
	}
	promoted := cond(ConditionPromoted, metav1.ConditionUnknown, string(s.Phase), "")
	switch s.Phase {
	case Succeeded:
		promoted = cond(ConditionPromoted, metav1.ConditionTrue, reason, s.Message)
	case RolledBack, Aborted:
		promoted = cond(ConditionPromoted, metav1.ConditionFalse, reason, s.Message)
	}
	return []metav1.Condition{progressing, s.healthy(), paused, promoted}
}

// healthy summarises the last gate's checks.
func (s Status) healthy() metav1.Condition {
	c := metav1.Condition{Type: ConditionHealthy, Status: metav1.ConditionUnknown, Reason: "NotAnalysed",
		Message: "no gate evaluated yet"}
	if len(s.Checks) == 0 {
		return c
	}
	var failed, inconclusive []string
	for _, ch := range s.Checks {
		switch ch.Verdict {
		case Fail:
			failed = append(failed, fmt.Sprintf("%s (%s)", ch.Name, ch.Reason))
		case Inconclusive:
			inconclusive = append(inconclusive, ch.Name)
		}
	}
	switch {
	case len(failed) > 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, "ChecksFailed", "failed: "+strings.Join(failed, "; ")
	case len(inconclusive) > 0:
		c.Reason, c.Message = "ChecksInconclusive", "inconclusive: "+strings.Join(inconclusive, ", ")
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, "ChecksPassed", fmt.Sprintf("%d checks passed", len(s.Checks))
	}
	return c
}
