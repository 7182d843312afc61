package analysis

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
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
	// counter that appears started at 0). Each family has its own, so a family
	// whose first query failed does not count its whole history as new.
	based map[family]bool
	ticks []tickCounts
	total [2]Counts    // canary, stable
	hist  [2]Histogram // canary, stable: request durations
}

// tickCounts is one tick's new requests and errors per side.
type tickCounts struct {
	at     time.Time
	canary Counts
	stable Counts
	hist   [2]Histogram // canary, stable
}

// family is one kind of series the sampler reads.
type family int

const (
	famRequests family = iota // request counters by status
	famLatency                // request-duration histogram buckets
)

// answers are one tick's answers, by family; a family whose query failed is absent.
type answers map[family]model.Vector

func newEvidence(t Target) *evidence {
	return &evidence{target: t, label: t.statusLabel(), pods: podRegexps(t), last: map[string]float64{},
		based: map[family]bool{}}
}

// add takes one answer of the grouped request counters at ts (see addTick).
func (e *evidence) add(ts time.Time, vec model.Vector) { e.addTick(ts, answers{famRequests: vec}) }

// addTick takes one tick's answers of the grouped queries (or one step of a
// rebuild) at ts. A grouped counter that went down was reset somewhere below
// the sum (a restarted pod or controller): that series' delta for the tick is
// taken as 0 and counting restarts from the new value, which can only miss
// requests, never invent them. The first tick only sets the baseline.
func (e *evidence) addTick(ts time.Time, in answers) {
	tc := tickCounts{at: ts}
	first := !e.based[famRequests]
	for fam, vec := range in {
		based := e.based[fam]
		e.based[fam] = true
		for _, s := range vec {
			sd, ok := sideOf(e.target, fam, s.Metric, e.pods)
			if !ok {
				continue
			}
			d := e.delta(fam, s, based)
			if d <= 0 || d != d { // no new requests, or NaN
				continue
			}
			e.count(&tc, fam, sd, s.Metric, d)
		}
	}
	if first {
		return
	}
	e.ticks = append(e.ticks, tc)
	e.total[0] = e.total[0].Add(tc.canary)
	e.total[1] = e.total[1].Add(tc.stable)
	e.hist[0] = e.hist[0].Add(tc.hist[0])
	e.hist[1] = e.hist[1].Add(tc.hist[1])
}

// delta is a grouped counter's increase since its last value, 0 before the
// family's baseline and after a reset; a series first seen later counts from 0.
func (e *evidence) delta(fam family, s *model.Sample, based bool) float64 {
	key := fmt.Sprint(fam) + s.Metric.String()
	cur := float64(s.Value)
	prev, seen := e.last[key]
	e.last[key] = cur
	switch {
	case !based:
		return 0
	case !seen:
		return cur
	case cur >= prev:
		return cur - prev
	}
	return 0
}

// count adds d new observations of one series to its side of tc.
func (e *evidence) count(tc *tickCounts, fam family, sd side, m model.Metric, d float64) {
	i := 1
	if sd == canarySide {
		i = 0
	}
	if fam == famLatency {
		le, err := strconv.ParseFloat(string(m[model.BucketLabel]), 64)
		if err != nil || le != le {
			return
		}
		if e.target.Source == SourceIstio && !math.IsInf(le, 1) {
			le /= 1000 // Istio's histogram is in milliseconds
		}
		if tc.hist[i] == nil {
			tc.hist[i] = Histogram{}
		}
		tc.hist[i][le] += d
		return
	}
	c := Counts{Requests: d}
	switch st := string(m[model.LabelName(e.label)]); {
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

// since sums each side's counts of the ticks after from.
func (e *evidence) since(from time.Time) (canary, stable Counts) {
	for i := len(e.ticks) - 1; i >= 0 && e.ticks[i].at.After(from); i-- {
		canary = canary.Add(e.ticks[i].canary)
		stable = stable.Add(e.ticks[i].stable)
	}
	return canary, stable
}

// histSince sums each side's request durations of the ticks after from.
func (e *evidence) histSince(from time.Time) (h [2]Histogram) {
	for i := len(e.ticks) - 1; i >= 0 && e.ticks[i].at.After(from); i-- {
		h[0] = h[0].Add(e.ticks[i].hist[0])
		h[1] = h[1].Add(e.ticks[i].hist[1])
	}
	return h
}

// lastAt is the time of the latest answer, zero before any.
func (e *evidence) lastAt() time.Time {
	if len(e.ticks) == 0 {
		return time.Time{}
	}
	return e.ticks[len(e.ticks)-1].at
}
