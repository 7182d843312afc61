package contract

import (
	"encoding/json"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Key is the annotation holding the JSON status.
const StatusKey = "rolloutd.io/status"

// Phase is where a rollout stands.
type Phase string

// Phases of the contract.
const (
	Idle                Phase = "Idle"
	Progressing         Phase = "Progressing"
	Paused              Phase = "Paused"
	PendingConfirmation Phase = "PendingConfirmation"
	Promoting           Phase = "Promoting"
	Succeeded           Phase = "Succeeded"
	RollingBack         Phase = "RollingBack"
	RolledBack          Phase = "RolledBack"
	Aborted             Phase = "Aborted"
)

// Active reports whether a rollout is under way in this phase (a canary may exist or
// traffic may be split).
func (p Phase) Active() bool {
	switch p {
	case Progressing, Paused, PendingConfirmation, Promoting, RollingBack:
		return true
	}
	return false
}

// Status is the JSON document in the rolloutd.io/status annotation.
type Status struct {
	Phase Phase `json:"phase"`
	// Revision identifies the pod template under release (a hash of it).
	Revision string `json:"revision,omitempty"`
	// StableRevision identifies the template the stable pods run.
	StableRevision string `json:"stableRevision,omitempty"`
	// Weight is the canary's share of user traffic in percent, as last written.
	Weight int `json:"weight"`
	// Step is the 1-based index of the current step; 0 before the first.
	Step    int    `json:"step"`
	Steps   int    `json:"steps,omitempty"`
	Message string `json:"message,omitempty"`
	// Checks holds the last gate's check results.
	Checks []CheckResult `json:"checks,omitempty"`
	// Standing is the continuous judge's latest standing while a canary step
	// holds its weight, refreshed every ROLLOUTD_STANDING_REFRESH at most (and
	// when a check's verdict changes); nil outside a canary's steps.
	Standing           *Standing `json:"standing,omitempty"`
	LastTransitionTime time.Time `json:"lastTransitionTime"`
	// StepStartedAt is when traffic reached the current step's weight: the start
	// of its analysis window. Nil while the canary pods for the step come up.
	StepStartedAt *time.Time `json:"stepStartedAt,omitempty"`
	// ScaledAt is when the canary was last resized for a step; readiness is
	// measured against the progress deadline from here.
	ScaledAt *time.Time `json:"scaledAt,omitempty"`
	// Sized is the largest spec.replicas the stable had since the rollout began:
	// the canary's share is sized from it, so an autoscaler shrinking idle stable
	// pods never shrinks the canary carrying the traffic. Zero when no rollout is
	// under way (and for batch releases, which move pods themselves).
	Sized int32 `json:"sized,omitempty"`
	// UnreadySince is when the canary, carrying traffic, was first seen with
	// fewer Ready pods than its share needs; nil while it has them.
	UnreadySince *time.Time `json:"unreadySince,omitempty"`
	// SwitchedAt is when a blue/green rollout moved all traffic to the new
	// revision; later gates measure the stable pods before this instant.
	SwitchedAt *time.Time `json:"switchedAt,omitempty"`
	// Inconclusive counts consecutive gates without enough canary traffic.
	Inconclusive int `json:"inconclusive,omitempty"`
	// Failures counts failed gates of the current revision.
	Failures int `json:"failures,omitempty"`
	// FailedRevision is a revision that was rolled back; it is not retried until
	// the template changes.
	FailedRevision string `json:"failedRevision,omitempty"`
	// Reason is a machine-readable word for the last transition (an Event reason).
	Reason string `json:"reason,omitempty"`
	// UserPaused records spec.paused as the user had it before opting in, so opting
	// out hands the Deployment back exactly as written.
	UserPaused bool `json:"userPaused,omitempty"`
	// Approved records the step (1-based) approved by `rolloutctl promote`.
	Approved int `json:"approved,omitempty"`
	// StartedAt is when the rollout of Revision began: an alert that fired before
	// it belongs to an earlier release and never rolls this one back.
	StartedAt *time.Time `json:"startedAt,omitempty"`
	// Restore is the revision the stable Deployment is being rolled back to after
	// an alert struck a promoted revision (phase RollingBack); empty otherwise.
	Restore string `json:"restore,omitempty"`
	// Batch is the pod plan of a batch release (strategy batch) while one is
	// under way; nil otherwise.
	Batch *BatchStatus `json:"batch,omitempty"`
	// Undo records the operator's undo that released Revision (rolloutctl undo);
	// nil for a rollout of a new template. Kept once the undo has finished, as a
	// record of who went back to which revision; cleared when the next rollout starts.
	Undo *UndoRequest `json:"undo,omitempty"`
	// Spec holds the user's rolloutd.io annotations as they last parsed while a
	// rollout is under way; if they stop parsing, the rollout in flight goes on
	// (held, never advancing) with these. Nil when no rollout is under way.
	Spec map[string]string `json:"spec,omitempty"`
	// Invalid names the annotations that stopped parsing during the rollout (the
	// rollout is held until they are fixed); empty when they parse.
	Invalid string `json:"invalid,omitempty"`
	// Records are the outcomes of the latest finished rollouts, one per revision,
	// oldest first, at most rolloutd.io/revision-history of them (see WithRecord).
	Records []Record `json:"records,omitempty"`
	// Conditions summarise the status in the Kubernetes style (see WithConditions);
	// the controller derives them at write time.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Undo is an operator's request to return to a kept revision.
type UndoRequest struct {
	// Revision is the deployment.kubernetes.io/revision number returned to.
	Revision int64 `json:"revision"`
	// Now: restored at once on the stable Deployment, without a canary.
	Now bool   `json:"now,omitempty"`
	By  string `json:"by,omitempty"`
}

// Read decodes the status annotation; a missing annotation is the zero Status.
func Read(ann map[string]string) (Status, error) {
	raw, ok := ann[StatusKey]
	if !ok || raw == "" {
		return Status{}, nil
	}
	var s Status
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return Status{}, fmt.Errorf("status: decode %s: %w", StatusKey, err)
	}
	return s, nil
}

// Encode renders the status for the annotation.
func (s Status) Encode() (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("status: encode: %w", err)
	}
	return string(b), nil
}

// Equal reports whether two statuses would encode identically, so an unchanged
// status is never written.
func Equal(a, b Status) bool {
	x, errA := a.Encode()
	y, errB := b.Encode()
	return errA == nil && errB == nil && x == y
}

// Standing is what the continuous judge made of the evidence since the canary's
// first traffic, at the tick At: each sequentially judged check with its figures,
// the evidence and its bound.
type Standing struct {
	At     time.Time     `json:"at"`
	Checks []CheckResult `json:"checks"`
}
