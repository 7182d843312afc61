package strategy

import (
	"fmt"
	"strings"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// mirrored runs a canary with rolloutd.io/mirror: an extra first step in which the
// canary gets no user traffic, only a copy of that percentage of the requests
// (Istio drops the canary's responses), judged like any other step on the canary's
// own metrics; the weighted steps follow. The canary is sized for the mirrored
// share during that step, and the status weight is 0. An undo's fast canary has no
// mirror step.
func mirrored(in Input) Decision {
	if in.Status.Undo != nil {
		// An undo returns to a revision that already served users: its fast
		// canary is one weighted step, without the mirror step.
		return progress(in)
	}
	p := in.Spec.MirrorPercent
	in.Spec.Steps = append([]int{p}, in.Spec.Steps...)
	d := progress(in)
	if d.Status.Step != 1 {
		// The mirror gate's verdict is reported on the way to step 2.
		return rephrase(d, strings.NewReplacer(fmt.Sprintf("gate at %d%% passed (step 1/", p), "mirror gate passed (step 1/"))
	}
	if d.Status.Phase != contract.Progressing && d.Status.Phase != contract.Paused {
		return d
	}
	d.Status.Weight, d.Split.CanaryWeight = 0, 0
	if d.Status.StepStartedAt != nil { // the canary pods are Ready
		d.Split.MirrorPercent = p
	}
	return rephrase(d, strings.NewReplacer(
		fmt.Sprintf("%d%% of traffic on the canary", p), fmt.Sprintf("no user traffic on the canary, %d%% of requests mirrored to it", p),
		fmt.Sprintf("at %d%%", p), "of the mirror step"))
}
