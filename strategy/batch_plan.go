package strategy

import (
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// BatchTargets resolves the batches annotation against the desired replicas: the
// canary pod count at the end of each batch. Percentages round up (a batch is never
// empty), counts are capped at desired, and a batch never shrinks the canary below
// the one before it.
func BatchTargets(batches []contract.Quantity, desired int32) []int32 {
	out := make([]int32, 0, len(batches))
	var prev int32
	for _, q := range batches {
		n := q.Of(desired, true)
		if n < 1 {
			n = 1
		}
		if n > desired {
			n = desired
		}
		if n < prev {
			n = prev
		}
		out = append(out, n)
		prev = n
	}
	return out
}

// Limits are the pods one chunk of a batch may move, resolved against the desired
// replicas: Surge extra pods at once (create-first), Unavailable pods fewer than
// desired at once (delete-first).
type Limits struct {
	Surge, Unavailable int32
}

// ResolveLimits follows the Deployment controller's rounding: max-surge rounds up,
// max-unavailable rounds down. A chunk moves at least one pod: create-first with a
// surge of 0 creates one at a time, and delete-first (which the spec only accepts
// with a non-zero max-unavailable) removes at least one even when a percentage
// rounds down to 0 on a small Deployment.
func ResolveLimits(sp contract.Spec, desired int32) Limits {
	l := Limits{Surge: sp.MaxSurge.Of(desired, true), Unavailable: sp.MaxUnavailable.Of(desired, false)}
	if l.Surge < 1 {
		l.Surge = 1
	}
	if sp.RollingOrder == contract.DeleteFirst && l.Unavailable < 1 {
		l.Unavailable = 1
	}
	return l
}

// Pods is a pair of pod counts seen from the direction pods move: Grow is the side
// that gains pods (the canary while a release advances, the stable while it is
// reversed or handed back), Shrink the side that loses them.
type Pods struct {
	Grow, Shrink int32
}

// MoveState says what a chunk computation decided.
type MoveState int

// Move states.
const (
	// Moved: one side is resized; write it and look again.
	Moved MoveState = iota
	// AwaitReady: the growing side's pods are not all Ready yet.
	AwaitReady
	// Done: the growing side holds the target and all its pods are Ready.
	Done
)

// Move is the input of one chunk computation.
type Move struct {
	Pods Pods
	// Ready is the number of Ready pods on the growing side.
	Ready int32
	// Desired is the total number of pods the Deployment should run.
	Desired int32
	// Target is the growing side's count at the end of the batch.
	Target int32
	Order  contract.RollingOrder
	Limits Limits
	// ShrinkPods is the shrinking side's pods as observed; 0 when not known. A
	// side is grown after a shrink only once those pods are gone, so a resize
	// that failed or has not taken effect never adds to the pods still running.
	ShrinkPods int32
}

// NextMove computes the next chunk. A chunk changes one side per call so that the
// order is kept across reconciles: create-first grows by up to Surge, waits until
// the new pods are Ready, then shrinks the other side by as many; delete-first
// shrinks by up to Unavailable, then grows by as many, then waits until they are
// Ready before the next chunk. The total therefore stays within
// [Desired-Unavailable, Desired+Surge], and Ready pods never drop below
// Desired-Unavailable when the shrinking side's pods were Ready.
func NextMove(m Move) (Pods, MoveState) {
	p := m.Pods
	switch {
	case p.Grow+p.Shrink > m.Desired:
		if m.Ready < p.Grow {
			return p, AwaitReady
		}
		p.Shrink = max(0, m.Desired-p.Grow)
		return p, Moved
	case p.Grow+p.Shrink < m.Desired:
		if m.ShrinkPods > p.Shrink {
			return p, AwaitReady
		}
		p.Grow = m.Desired - p.Shrink
		return p, Moved
	case m.Ready < p.Grow:
		return p, AwaitReady
	case p.Grow >= m.Target:
		return p, Done
	case m.Order == contract.DeleteFirst:
		p.Shrink -= min(m.Limits.Unavailable, m.Target-p.Grow)
	case m.ShrinkPods > p.Shrink:
		// Create-first: the last chunk's shrink has not taken effect yet (the
		// ReplicaSet controller has not removed those pods); growing now would
		// add a surge on top of them.
		return p, AwaitReady
	default:
		p.Grow += min(m.Limits.Surge, m.Target-p.Grow)
	}
	return p, Moved
}

// Rebase adapts a batch plan to a stable size changed by someone else since the
// last write (an HPA or a user scaling the Deployment). Growth is taken as a
// larger desired total, never written back. A shrink never lowers the desired
// total: an autoscaler sees the load move to the new pods and shrinks the old
// ones, and the pods carrying that load must not go with them, so the pods move
// on toward the total the release recorded (the side that takes the traffic
// back, on a rollback or at the end of a promotion, grows back to it).
func Rebase(b contract.BatchStatus, observedStable int32) contract.BatchStatus {
	if observedStable == b.Stable {
		return b
	}
	if observedStable > b.Stable {
		b.Desired += observedStable - b.Stable
	}
	b.Stable = observedStable
	if b.Desired < 1 {
		b.Desired = 1
	}
	return b
}
