package analysis

import (
	"regexp"
	"time"

	"github.com/prometheus/common/model"
)

// evidence is what one rollout's revision has shown since the canary's first
// traffic: the requests and errors of each side per sampler tick, from deltas of
// the raw counters. It lives in memory only; after a restart it is rebuilt from
// Prometheus (a range query over the same counters), so nothing is persisted.
type evidence struct {
	target Target
	label  string
	pods   [2]*regexp.Regexp
	// last holds each grouped series' latest cumulative value. A series keeps its
	// value while absent from an answer (a missed scrape), so its return is a
	// delta and never counted twice.
	last map[string]float64
	// based is false until the first answer set the baseline: series present
	// then are counted from their value at that instant, later ones from 0 (a
	// counter that appears started at 0).
	based bool
	ticks []tickCounts
	total [2]Counts // canary, stable
}

// tickCounts is one tick's new requests and errors per side.
type tickCounts struct {
	at     time.Time
	canary Counts
	stable Counts
}

func newEvidence(t Target) *evidence {
	return &evidence{target: t, label: t.statusLabel(), pods: podRegexps(t), last: map[string]float64{}}
}

// add takes one answer of the grouped query (or one step of a rebuild) at ts.
// A grouped counter that went down was reset somewhere below the sum (a
// restarted pod or controller): that series' delta for the tick is taken as 0
// and counting restarts from the new value, which can only miss requests, never
// invent them.
func (e *evidence) add(ts time.Time, vec model.Vector) {
	var tc tickCounts
	tc.at = ts
	for _, s := range vec {
		sd, ok := sideOf(e.target, s.Metric, e.pods)
		if !ok {
			continue
		}
		key := s.Metric.String()
		cur := float64(s.Value)
		prev, seen := e.last[key]
		e.last[key] = cur
		var d float64
		switch {
		case !e.based:
			continue
		case !seen:
			d = cur
		case cur >= prev:
			d = cur - prev
		}
		if d <= 0 || d != d { // no new requests, or NaN
			continue
		}
		c := Counts{Requests: d}
		switch st := string(s.Metric[model.LabelName(e.label)]); {
		case st == "":
			c.Unlabelled = d
		case isServerError(st):
			c.Errors = d
		}
		if sd == canarySide {
			tc.canary = tc.canary.Add(c)
		} else {
			tc.stable = tc.stable.Add(c)
		}
	}
	if !e.based {
		e.based = true
		return
	}
	e.ticks = append(e.ticks, tc)
	e.total[0] = e.total[0].Add(tc.canary)
	e.total[1] = e.total[1].Add(tc.stable)
}

// since sums each side's counts of the ticks after from.
func (e *evidence) since(from time.Time) (canary, stable Counts) {
	for i := len(e.ticks) - 1; i >= 0 && e.ticks[i].at.After(from); i-- {
		canary = canary.Add(e.ticks[i].canary)
		stable = stable.Add(e.ticks[i].stable)
	}
	return canary, stable
}

// lastAt is the time of the latest answer, zero before any.
func (e *evidence) lastAt() time.Time {
	if len(e.ticks) == 0 {
		return time.Time{}
	}
	return e.ticks[len(e.ticks)-1].at
}
