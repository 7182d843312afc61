package controller

import (
	"errors"
	"maps"
	"strings"

	"go.uber.org/zap"

	"github.com/rolloutd/rolloutd/strategy"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// lastValidSpec is the spec a rollout under way goes on with when its annotations
// stop parsing: each rejected annotation takes the value it had when they last
// parsed (kept in the status), or its default when none was kept; failing that,
// the kept annotations alone. The rollout is then held (never advancing), while
// every path that takes traffic off the canary keeps working: a typo must never
// disable a rollback.
func (r *rollout) lastValidSpec(perr error) contract.Spec {
	kept := r.prev.Spec
	ann := maps.Clone(r.d.Annotations)
	var inv *contract.InvalidError
	for _, e := range contract.Problems(perr) {
		if !errors.As(e, &inv) {
			continue
		}
		if v, ok := kept[inv.Key]; ok {
			ann[inv.Key] = v
		} else {
			delete(ann, inv.Key)
		}
	}
	sp, err := contract.Parse(r.d.Name, ann)
	if err != nil && kept != nil {
		snap := maps.Clone(kept)
		snap[contract.KeyEnabled] = "true"
		if s, kerr := contract.Parse(r.d.Name, snap); kerr == nil {
			return s
		}
	}
	if err != nil {
		r.log.Warn("annotations still invalid with the last valid values; going on with defaults for them", zap.Error(err))
	}
	return sp
}

// invalidMessage names every rejected annotation with its accepted form.
func invalidMessage(perr error) string {
	return "invalid annotations: " + invalidList(perr)
}

// invalidList is every problem of a parse error, each rejected annotation with
// its accepted form, separated by semicolons.
func invalidList(perr error) string {
	msgs := []string{}
	var inv *contract.InvalidError
	for _, e := range contract.Problems(perr) {
		if errors.As(e, &inv) {
			msgs = append(msgs, inv.Error())
		} else {
			msgs = append(msgs, e.Error())
		}
	}
	return strings.Join(msgs, "; ")
}

// keepSpec records in the decision's status the annotations a held rollout goes on
// with (or, when they parse, the ones to fall back on later), and a Warning Event
// naming the rejected annotations the first time they are seen.
func (r *rollout) keepSpec(d *strategy.Decision) {
	st := &d.Status
	if !st.Phase.Active() {
		st.Spec, st.Invalid = nil, ""
		return
	}
	if r.held == "" {
		st.Spec, st.Invalid = contract.UserAnnotations(r.d.Annotations), ""
		return
	}
	st.Spec, st.Invalid = r.prev.Spec, r.held
	if r.prev.Invalid != r.held {
		d.Events = append(d.Events, strategy.Event{Warning: true, Reason: ReasonInvalidSpec,
			Message: r.held + "; the rollout in flight is held at its last valid settings and does not advance"})
	}
}
