// Package strategy decides, as a pure function, what a rollout does next: given the
// Deployment's Spec, its persisted Status and what the controller observed (the
// canary's readiness, the stable's rollout, a gate's analysis result, the time), it
// returns the next Status and the desired canary size, traffic split and stable
// state. It reads no clock and calls no client, so every transition is a table test.
// It imports only strategy/contract, traffic and analysis (for a gate's result).
package strategy

import (
	"time"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// InconclusiveLimit is how many consecutive gates without enough canary traffic
// count as one failed gate.
const InconclusiveLimit = 3

// PollInterval is how soon to look again while waiting on pods.
const PollInterval = 2 * time.Second

// Canary is what the controller observed of the canary Deployment.
type Canary struct {
	Exists   bool
	Revision string
	// Ready is the number of ready pods running Revision (0 while any pod of
	// another revision remains).
	Ready int32
	// Replicas is the canary's spec.replicas: a batch release counts its pods
	// from here, so a status read from a cache that lags behind the last write
	// never shrinks the canary back.
	Replicas int32
	// Pods is the canary's pod count as its status reports it: a shrink has
	// taken effect only once it is down to spec.replicas.
	Pods int32
}

// Stable is what the controller observed of the user's Deployment.
type Stable struct {
	// Template is the revision of the Deployment's pod template as written now.
	Template string
	// Running is the revision the stable pods run (the newest ReplicaSet that
	// has replicas).
	Running string
	// Newest is the revision of the newest ReplicaSet, whatever its size, and
	// NewestPods its spec.replicas: an un-paused Deployment's controller creates
	// it for the template it rolls out, vetted or not.
	Newest     string
	NewestPods int32
	// Desired is spec.replicas.
	Desired int32
	// Ready is the number of Ready pods of the Deployment (0 until its controller
	// has observed the latest spec); a batch release waits on it when it gives
	// pods back to the stable.
	Ready int32
	// Pods is the stable's pod count as its status reports it (terminating pods
	// excluded): a shrink has taken effect once it is down to spec.replicas.
	Pods int32
	// RolledOut is true when the Deployment controller has finished rolling out
	// its template: every replica updated and available.
	RolledOut bool
	// Paused is the Deployment's spec.paused: while it is set no new template
	// rolls out.
	Paused bool
	// Previous is the revision an alert restores: after promotion the one the
	// stable ran before Running (the ReplicaSet before the newest), during one the
	// stable revision the promotion replaces; empty when none is kept. Observed
	// only when such an alert is pending.
	Previous string
	// UndoTarget is the revision hash of the template held by the kept ReplicaSet
	// an undo command names, read from the API; empty when no such ReplicaSet is
	// kept. Observed only when an undo is pending.
	UndoTarget string
}

// Input is everything one decision depends on.
type Input struct {
	// Name is the Deployment's name, for messages that tell the user what to run.
	Name   string
	Now    time.Time
	Spec   contract.Spec
	Status contract.Status
	Stable Stable
	Canary Canary
	// ReadyTimeout bounds how long canary pods may take to become Ready.
	ReadyTimeout time.Duration
	// UnreadyLimit bounds how long a canary carrying traffic may have fewer Ready
	// pods than its share needs; zero means DefaultUnreadyLimit.
	UnreadyLimit time.Duration
	// Gate is the analysis result, present only when GateDue was true and the
	// controller evaluated it for this decision.
	Gate *analysis.Result
	// Sequential is the continuous judge's standing on the evidence since the
	// canary's first traffic (nil when it has none): Fail rolls back at once,
	// Pass after the step's minimum exposure advances early (spec.Adaptive).
	Sequential *analysis.Sequential
	// StandingRefresh is how often at most the status shows a newer standing of
	// the continuous judge while its verdicts stay the same; zero never shows it.
	StandingRefresh time.Duration
	// Command is an operator request consumed by this decision, if any.
	Command *contract.Command
	// Alert, when set, is a firing alert for this Deployment: roll back now.
	Alert *Alert
	// Held says why the Deployment's annotations no longer parse while a rollout
	// is under way ("" when they do): Spec is then the last valid one, and the
	// rollout does not advance until they are fixed (rollbacks still act).
	Held string
	// Broken says why traffic cannot be routed (a missing Service or Ingress);
	// empty when routing works. An active rollout rolls back; none starts.
	Broken string
}

// Alert describes a firing alert that requests a rollback.
type Alert struct {
	Name     string
	StartsAt time.Time
	// Labels are the alert's labels, summarised in the status message and
	// matched against the Deployment's alert selector.
	Labels map[string]string
}

// StableAction says whether the user's Deployment may roll out its template.
type StableAction int

// Stable actions: the Deployment stays paused except to promote a vetted revision.
const (
	KeepPaused StableAction = iota
	Resume
)

// Event is a Kubernetes Event to record after the decision is applied.
type Event struct {
	Warning bool
	Reason  string
	Message string
}

// Decision is the desired state after one reconcile.
type Decision struct {
	Status contract.Status
	// CanaryReplicas is the desired size of the canary copy; 0 means it must not
	// exist (removed only after traffic has left it).
	CanaryReplicas int32
	// StableReplicas, when set, is the spec.replicas of the user's Deployment,
	// written in the same update as the status (a batch release moves pods
	// between the stable and the canary); nil leaves it to the user or an HPA.
	StableReplicas *int32
	Split          traffic.Split
	Stable         StableAction
	Events         []Event
	// RequeueAfter asks for another reconcile; 0 means only on change.
	RequeueAfter time.Duration
	// KeepAlert leaves a pending alert in place for a later decision (it arrived
	// while a promotion was finishing); otherwise the alert is consumed.
	KeepAlert bool
	// AlertIgnored says why a pending alert caused no rollback; empty when there
	// was no alert, or it was acted on or kept.
	AlertIgnored string
	// Transition says what this decision does to the rollout (set by Step and
	// HandBack).
	Transition Transition
	// Revert, when set, asks for the stable's pods to leave an unvetted revision
	// its Deployment controller rolled out: the Deployment is paused, and nothing
	// else (canary, traffic) changes in this decision.
	Revert *Revert
}

// Revert names the unvetted revision the stable pods must leave and the vetted
// revisions they may return to, in order of preference.
type Revert struct {
	From string
	To   []string
}

// ReducesExposure reports whether the decision takes traffic or pods away from a
// canary the previous status gave them to: such a decision is persisted before it is
// applied, so a crash in between can never put traffic back on a failed canary.
func (d Decision) ReducesExposure(prev contract.Status) bool {
	return d.Status.Phase == contract.RollingBack && prev.Phase != contract.RollingBack
}
