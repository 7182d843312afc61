// Package alerts receives Alertmanager's webhook and hands each firing alert to the
// leader: on the leading replica its own controller takes it in process
// (Handoff), and the decision's write records it; any other replica, or the
// leader when its controller gives the alert back, marks the alert's Deployment
// with the rolloutd.io/alert annotation through the API server, and the leader's
// controller sees the change, decides, and drops the mark in the same write that
// records its decision. Nothing is kept in process but a dedupe set and the
// alerts waiting for a worker, so a leader change loses no marked alert and acts
// on none twice.
package alerts

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Key is the annotation holding a firing alert for the controller to act on.
const Key = contract.Prefix + "alert"

// Mark is the JSON document of the alert annotation.
type Mark struct {
	Name        string            `json:"name"`
	Fingerprint string            `json:"fingerprint"`
	StartsAt    time.Time         `json:"startsAt"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// ReadMark decodes the alert annotation. present is true when the annotation
// exists, even when it does not decode (the controller drops such a mark).
func ReadMark(ann map[string]string) (m *Mark, present bool, err error) {
	raw, ok := ann[Key]
	if !ok {
		return nil, false, nil
	}
	var v Mark
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return nil, true, fmt.Errorf("alerts: decode %s: %w", Key, err)
	}
	if v.Name == "" || v.StartsAt.IsZero() {
		return nil, true, fmt.Errorf("alerts: %s lacks a name or startsAt", Key)
	}
	return &v, true, nil
}

// Encode renders the mark for the annotation.
func (m Mark) Encode() (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("alerts: encode mark: %w", err)
	}
	return string(b), nil
}

// Same reports whether two marks describe the same firing of the same alert.
func (m Mark) Same(o Mark) bool {
	return m.Fingerprint == o.Fingerprint && m.StartsAt.Equal(o.StartsAt)
}
