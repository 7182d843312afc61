package strategy

import "fmt"

// HandBack moves the pods a batch release put on the canary back to the stable
// for an opt-out, in the release's chunks and order: the stable grows (within
// max-surge, create-first) before canary pods go, so the Deployment never runs
// fewer Ready pods than desired minus max-unavailable. It reports done once the
// stable holds every pod, Ready, and the canary none; the decision is then
// empty and the caller removes what was generated.
func HandBack(in Input) (Decision, bool) {
	if in.Status.Batch == nil {
		return Decision{}, true
	}
	in.Status = rebased(in)
	st := in.Status
	b := *st.Batch
	p, state := NextMove(Move{Pods: Pods{Grow: b.Stable, Shrink: b.Canary}, Ready: in.Stable.Ready, ShrinkPods: in.Canary.Pods,
		Desired: b.Desired, Target: b.Desired, Order: in.Spec.RollingOrder, Limits: ResolveLimits(in.Spec, b.Desired)})
	if state == Done && p.Shrink == 0 {
		return Decision{}, true
	}
	b.Stable, b.Canary = p.Grow, p.Shrink
	st.Batch, st.Weight = &b, share(b)
	st.Message = fmt.Sprintf("opting out: handing pods back to %s (%d on %s, %d on the canary)", in.Name, b.Stable, in.Name, b.Canary)
	d := hold(st)
	d.RequeueAfter = PollInterval
	return withTransition(in.Status, d), false
}
