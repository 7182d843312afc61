package contract

import (
	"encoding/json"
	"fmt"
)

// HandBackAnnotation carries a HandBackPlan on the canary copy of a batch release.
// It lives on the copy, which rolloutd owns, so that a Deployment stripped of
// every rolloutd.io annotation (the user's word that they want none) is handed
// back in the release's chunks even by a daemon that never saw its last status.
const HandBackAnnotation = Prefix + "hand-back"

// HandBackPlan is what handing a batch release's pods back to the stable needs
// beyond the pod counts, which are observed: the total to end with, the user's
// spec.paused, and the annotations that size and order the chunks.
type HandBackPlan struct {
	// Desired is the release's batch.desired: the stable's spec.replicas at the end.
	Desired int32 `json:"desired"`
	// UserPaused is the spec.paused the user had before opting in.
	UserPaused bool `json:"userPaused,omitempty"`
	// Spec holds the user's annotations among HandBackKeys, as they last parsed.
	Spec map[string]string `json:"spec,omitempty"`
}

// HandBackKeys are the annotations a hand-back reads: the strategy, the Service
// (routing checks), and what sizes and orders the chunks.
var HandBackKeys = []string{KeyStrategy, KeyService, KeyBatches, KeyMaxSurge, KeyMaxUnavailable, KeyRollingOrder}

// PlanOf is the hand-back plan of a batch release's status (its Spec as the
// annotations last parsed); false when the status records no batch.
func PlanOf(st Status) (HandBackPlan, bool) {
	if st.Batch == nil {
		return HandBackPlan{}, false
	}
	p := HandBackPlan{Desired: st.Batch.Desired, UserPaused: st.UserPaused}
	for _, k := range HandBackKeys {
		if v, ok := st.Spec[k]; ok {
			if p.Spec == nil {
				p.Spec = map[string]string{}
			}
			p.Spec[k] = v
		}
	}
	return p, true
}

// Encode is the plan's annotation value.
func (p HandBackPlan) Encode() string {
	raw, _ := json.Marshal(p) // a struct of plain fields always marshals
	return string(raw)
}

// ReadHandBackPlan reads the plan from a canary copy's annotations; false when
// there is none (a copy made before rolloutd kept one, or not a batch release).
func ReadHandBackPlan(ann map[string]string) (HandBackPlan, bool, error) {
	raw, ok := ann[HandBackAnnotation]
	if !ok {
		return HandBackPlan{}, false, nil
	}
	var p HandBackPlan
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return HandBackPlan{}, false, fmt.Errorf("annotation %s: %w", HandBackAnnotation, err)
	}
	if p.Desired < 1 {
		return HandBackPlan{}, false, fmt.Errorf("annotation %s: desired %d, want at least 1", HandBackAnnotation, p.Desired)
	}
	return p, true, nil
}

// ParseSpec is the spec the plan's annotations give (defaults for the rest, and
// for a value that no longer parses).
func (p HandBackPlan) ParseSpec(name string) Spec {
	ann := map[string]string{KeyEnabled: "true"}
	for k, v := range p.Spec {
		ann[k] = v
	}
	sp, err := Parse(name, ann)
	if err != nil {
		sp, _ = Parse(name, map[string]string{KeyEnabled: "true", KeyStrategy: string(Batch)})
	}
	return sp
}
