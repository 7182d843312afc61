package strategy

import (
	"fmt"
	"strings"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// abTest runs strategy abtest: the canary gets only the requests matching
// rolloutd.io/match, never a weighted share, for one interval per step, each
// ending with a gate; then it is promoted like a canary, or rolled back. The canary
// keeps the size of the first step throughout, and the status weight stays 0 with
// the match named in the message. Only pause-at "*" applies: the steps' weights
// are not traffic shares here.
func abTest(in Input) Decision {
	m := in.Spec.Match
	if m == nil { // spec validation requires a match; never send all traffic
		return rollback(in, contract.ReasonAborted, "strategy abtest without "+contract.KeyMatch)
	}
	if in.Status.Phase == contract.Promoting {
		return keepMatchWhilePromoting(promote(in), m)
	}
	size := in.Spec.Steps[0]
	in.Spec.Steps = repeat(size, len(in.Spec.Steps))
	in.Spec.PauseAt = contract.PauseAt{All: in.Spec.PauseAt.All}
	d := progress(in)
	if d.Status.Phase == contract.Promoting {
		return keepMatchWhilePromoting(d, m)
	}
	if d.Status.Phase != contract.Progressing && d.Status.Phase != contract.Paused {
		return d
	}
	d.Status.Weight = 0
	d.Split = traffic.Split{}
	if d.Status.StepStartedAt != nil { // the canary pods are Ready
		d.Split = traffic.Split{Match: m, Sticky: in.Spec.Sticky}
	}
	return rephrase(d, strings.NewReplacer(
		fmt.Sprintf("%d%% of traffic on the canary", size), "only requests matching "+m.String()+" on the canary",
		fmt.Sprintf("at %d%%", size), "on "+m.String()))
}

// keepMatchWhilePromoting keeps the matched requests on the canary while it scales
// up to take all traffic.
func keepMatchWhilePromoting(d Decision, m *traffic.Match) Decision {
	if d.Status.Phase == contract.Promoting && d.Split.CanaryWeight < 100 {
		d.Split.Match = m
	}
	return d
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// rephrase rewrites the status message and the events of d, for strategies that
// reuse the canary steps under another meaning.
func rephrase(d Decision, r *strings.Replacer) Decision {
	d.Status.Message = r.Replace(d.Status.Message)
	events := make([]Event, len(d.Events))
	for i, e := range d.Events {
		e.Message = r.Replace(e.Message)
		events[i] = e
	}
	d.Events = events
	return d
}
