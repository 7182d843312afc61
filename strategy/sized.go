package strategy

import (
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// The side carrying the traffic is sized from the traffic it carries. The stable's
// spec.replicas is what the canary's share is computed from, but an autoscaler sees
// the stable pods go idle as the canary takes traffic (all of it after a blue/green
// switch) and shrinks them; re-deriving the canary from that would shrink the pods
// carrying the traffic. So a rollout sizes its canary from the largest size the
// stable had since the rollout began (Status.Sized), and when traffic goes back to
// stable pods that an autoscaler shrank meanwhile, the stable is grown back to that
// size in the same write.

// handBackShare is the canary weight from which the stable counts as idle enough
// for an autoscaler to have shrunk it below what it must carry again.
const handBackShare = 50

// withSized returns in with Stable.Desired raised to the rollout's largest stable
// size, and that size.
func withSized(in Input) (Input, int32) {
	size := in.Stable.Desired
	if in.Status.Phase.Active() && in.Status.Sized > size {
		size = in.Status.Sized
	}
	in.Stable.Desired = size
	return in, size
}

// keepSized records the size in a rollout under way, and grows the stable back to
// it when the stable takes back the traffic the canary carried (a rollback, a
// promotion) after an autoscaler shrank it.
func keepSized(in Input, d Decision, size, actual int32) Decision {
	if d.Status.Phase.Active() {
		d.Status.Sized = size
	} else {
		d.Status.Sized = 0
	}
	handsBack := d.Status.Phase == contract.RollingBack || d.Status.Phase == contract.Promoting || !d.Status.Phase.Active()
	if actual < size && d.StableReplicas == nil && handsBack && (in.Status.Weight >= handBackShare || in.Status.Phase == contract.PendingConfirmation) {
		d.StableReplicas = &size
	}
	return d
}
