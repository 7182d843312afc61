package controller

import (
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// conditions derives the status's conditions at write time. A status that differs
// from the one read only by its conditions keeps the old ones, so a Deployment
// written by an older daemon is not rewritten for them alone.
func (r *rollout) conditions(st contract.Status) contract.Status {
	a, b := st, r.prev
	a.Conditions, b.Conditions = nil, nil
	if contract.Equal(a, b) {
		st.Conditions = r.prev.Conditions
		return st
	}
	return st.WithConditions(r.prev.Conditions, r.d.Generation, r.now)
}
