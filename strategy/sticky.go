package strategy

// sticky marks a split that gives the canary a weighted share of user traffic as
// sticky when rolloutd.io/sticky asks for it: routers that support it keep a client
// once sent to the canary there. The full-size canary of a promotion needs none.
func sticky(in Input, d Decision) Decision {
	if in.Spec.Sticky && d.Split.CanaryWeight > 0 && d.Split.CanaryWeight < 100 {
		d.Split.Sticky = true
	}
	return d
}
