package strategy

import (
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// withStanding shows the continuous judge's standing in the status while a
// canary step holds its weight, so `rolloutctl get -w` follows the evidence as
// it comes: written when a check's verdict changed, or when the standing is
// in.StandingRefresh newer than the one shown, and the rollout is requeued for
// the next refresh. Outside a step it is cleared. A zero refresh never writes it.
func withStanding(in Input, d Decision) Decision {
	st := &d.Status
	if st.Phase != contract.Progressing && st.Phase != contract.Paused {
		st.Standing = nil
		return d
	}
	seq := in.Sequential
	if in.StandingRefresh <= 0 || seq == nil || len(seq.Checks) == 0 || seq.At.IsZero() {
		return d
	}
	if old := st.Standing; old == nil || !seq.At.Before(old.At.Add(in.StandingRefresh)) || !sameVerdicts(old.Checks, seq.Checks) {
		st.Standing = &contract.Standing{At: seq.At, Checks: seq.Checks}
	}
	// The next refresh is due a refresh after the standing shown.
	if wait := max(st.Standing.At.Add(in.StandingRefresh).Sub(in.Now), time.Millisecond); d.RequeueAfter <= 0 || wait < d.RequeueAfter {
		d.RequeueAfter = wait
	}
	return d
}

// sameVerdicts reports whether two standings name the same checks with the
// same verdicts.
func sameVerdicts(a, b []contract.CheckResult) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Verdict != b[i].Verdict {
			return false
		}
	}
	return true
}
