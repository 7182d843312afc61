package analysis

import (
	"fmt"
	"iter"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/rolloutd/rolloutd/strategy/contract"
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
	// scraped holds each group's scrape time at the latest answer (the
	// scrapedLabel series): a canary counter whose previous value was scraped
	// before the rollout began may hold requests a previous canary answered
	// before then, so its delta is not the revision's.
	scraped map[string]time.Time
	// based is false until the first answer with a finite series of the
	// rollout set the baseline: series present then are counted from their
	// value at that instant, later ones from 0 (a counter that appears started
	// at 0). Each family has its own, so a family whose first query failed or
	// answered nothing does not count its whole history as new.
	based map[family]bool
	// baseAt is the time of the first good answer; from is the rollout's start:
	// ticks up to it read the stable before the canary had traffic and count
	// only for the stable's resource fit.
	baseAt, from time.Time
	ticks        []tickCounts
	total        [2]Counts    // canary, stable
	hist         [2]Histogram // canary, stable: request durations
	// mem holds each pod's working-set samples, per side: a slope is fitted
	// within each pod, so pods added later do not read as memory freed.
	mem [2]map[string][]growthPoint
}

// tickCounts is one tick's new requests and errors per side.
type tickCounts struct {
	at     time.Time
	canary Counts
	stable Counts
	hist   [2]Histogram // canary, stable
	res    [2]tickUsage // canary, stable
	dt     float64      // seconds since the previous tick
	pre    bool         // before the rollout began
}

// tickUsage is one side's resource samples in a tick: CPU core-seconds used
// and load summed over the pods seen, with the number of pods of each.
type tickUsage struct {
	cpu, cpuPods, load, loadPods float64
}

// of is family fam's figure in a tick of dt seconds, summed over the pods
// sampled (CPU core-seconds, or load x seconds), and how many pods those were.
func (u tickUsage) of(fam family, dt float64) (pods, value float64) {
	if fam == famLoad {
		return u.loadPods, u.load * dt
	}
	return u.cpuPods, u.cpu
}

// family is one kind of series the sampler reads.
type family int

const (
	famRequests family = iota // request counters by status
	famLatency                // request-duration histogram buckets
	famCPU                    // cAdvisor CPU counters per pod
	famLoad                   // cAdvisor load gauges per pod
	famMemory                 // cAdvisor working-set gauges per pod
)

// perPod reports a cAdvisor family, read per pod for every source.
func (f family) perPod() bool { return f == famCPU || f == famLoad || f == famMemory }

// answers are one tick's answers, by family; a family whose query failed is absent.
type answers map[family]model.Vector

func newEvidence(t Target, from time.Time) *evidence {
	return &evidence{target: t, label: t.statusLabel(), pods: podRegexps(t), last: map[string]float64{},
		scraped: map[string]time.Time{}, based: map[family]bool{}, from: from}
}

// add takes one answer of the grouped request counters at ts (see addTick).
func (e *evidence) add(ts time.Time, vec model.Vector) bool {
	return e.addTick(ts, answers{famRequests: vec})
}

// addTick takes one tick's answers of the grouped queries (or one step of a
// rebuild) at ts, and reports whether it was a good tick: one whose request
// answer has a finite series of this rollout (the stable's counters exist
// whenever it has served). Any other tick (Prometheus answering, but with
// nothing of the rollout, or NaN) is a gap, not a tick without traffic: it
// changes nothing, neither a counter's value nor a baseline, so the evidence
// stays as old as its last good answer and goes stale, and the next good tick
// counts the requests of the gap. NaN and ±Inf samples are ignored in any tick.
// A grouped counter that went down was reset somewhere below the sum (a
// restarted pod or controller): that series' delta for the tick is taken as 0
// and counting restarts from the new value, which can only miss requests,
// never invent them. The first good tick only sets the baseline.
func (e *evidence) addTick(ts time.Time, in answers) bool {
	if !e.good(in[famRequests]) {
		return false
	}
	tc := tickCounts{at: ts, pre: !ts.After(e.from)}
	first := !e.based[famRequests]
	for fam, vec := range in {
		e.take(&tc, fam, vec)
	}
	if first {
		e.baseAt = ts
		return true
	}
	prev := e.baseAt
	if n := len(e.ticks); n > 0 {
		prev = e.ticks[n-1].at
	}
	tc.dt = ts.Sub(prev).Seconds()
	e.ticks = append(e.ticks, tc)
	if tc.pre {
		return true
	}
	e.total[0] = e.total[0].Add(tc.canary)
	e.total[1] = e.total[1].Add(tc.stable)
	e.hist[0] = e.hist[0].Add(tc.hist[0])
	e.hist[1] = e.hist[1].Add(tc.hist[1])
	return true
}

// take counts one family's answer of a good tick into tc. Each group's scrape
// times are kept for the next tick's deltas (see fromBefore).
func (e *evidence) take(tc *tickCounts, fam family, vec model.Vector) {
	based := e.based[fam]
	stamps := map[string]time.Time{}
	for _, s := range vec {
		sd, ok := sideOf(e.target, fam, s.Metric, e.pods)
		switch {
		case !ok || !isFinite(float64(s.Value)):
			continue
		case s.Metric[scrapedLabel] != "":
			stamps[e.group(fam, s.Metric)] = time.UnixMilli(int64(float64(s.Value) * 1000))
			continue
		}
		// A family's baseline is its first answer with a finite series of the
		// rollout: one set by an empty answer would count a whole history as new.
		e.based[fam] = true
		if fam.perPod() {
			e.countPod(tc, fam, sd, s, based)
			continue
		}
		d := e.delta(fam, s, based)
		if d <= 0 {
			continue
		}
		if sd == canarySide && e.fromBefore(fam, s.Metric) {
			continue // answered, at least partly, before the rollout began
		}
		e.count(tc, fam, sd, s.Metric, d)
	}
	for g, at := range stamps {
		e.scraped[g] = at
	}
}

// good reports whether a request answer has a finite counter series of this
// rollout (a scrape-time series alone is no count).
func (e *evidence) good(vec model.Vector) bool {
	for _, s := range vec {
		if _, ok := sideOf(e.target, famRequests, s.Metric, e.pods); ok && isFinite(float64(s.Value)) && s.Metric[scrapedLabel] == "" {
			return true
		}
	}
	return false
}

// isFinite reports a value that is neither NaN nor ±Inf.
func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

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

// group is the key of the series' group in the answers' scrape times: its labels
// but the status or bucket label, which the scrape times are not split by.
func (e *evidence) group(fam family, m model.Metric) string {
	g := make(model.Metric, len(m))
	for k, v := range m {
		if k != scrapedLabel && k != model.BucketLabel && (fam != famRequests || k != model.LabelName(e.label)) {
			g[k] = v
		}
	}
	return fmt.Sprint(fam) + g.String()
}

// fromBefore reports whether the series' previous value was scraped before the
// rollout began: its delta then holds requests answered before, by whatever
// served the canary then (the previous revision's pods, still going while it
// rolled back). A group without scrape times (an answer without them) counts
// as after: its deltas count as they did before scrape times were read.
func (e *evidence) fromBefore(fam family, m model.Metric) bool {
	at, ok := e.scraped[e.group(fam, m)]
	return ok && at.Before(e.from)
}

// countPod adds one pod's cAdvisor sample to its side of tc: the CPU counter's
// increase, the load gauge's value; a working-set sample goes to the side's
// per-pod samples (growth.go).
func (e *evidence) countPod(tc *tickCounts, fam family, sd side, s *model.Sample, based bool) {
	u := &tc.res[sd.index()]
	v := float64(s.Value)
	if fam == famCPU {
		v = e.delta(fam, s, based)
	}
	if v < 0 {
		return
	}
	if fam == famMemory {
		if sd == stableSide || !tc.pre { // a canary pod before the rollout is a previous release's
			e.addMemory(sd, string(s.Metric["pod"]), tc.at, v)
		}
		return
	}
	if fam == famCPU {
		u.cpu, u.cpuPods = u.cpu+v, u.cpuPods+1
	} else {
		u.load, u.loadPods = u.load+v, u.loadPods+1
	}
}

// count adds d new observations of one series to its side of tc.
func (e *evidence) count(tc *tickCounts, fam family, sd side, m model.Metric, d float64) {
	i := sd.index()
	if fam == famLatency {
		le, err := strconv.ParseFloat(string(m[model.BucketLabel]), 64)
		if err != nil || le != le {
			return
		}
		if e.target.Source == contract.SourceIstio && !math.IsInf(le, 1) {
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

// usageSince sums each side's resource use of family fam over the ticks after from.
func (e *evidence) usageSince(from time.Time, fam family) (u [2]usage) {
	for i := len(e.ticks) - 1; i >= 0 && e.ticks[i].at.After(from); i-- {
		tc := e.ticks[i]
		for s, reqs := range [2]float64{tc.canary.Requests, tc.stable.Requests} {
			pods, v := tc.res[s].of(fam, tc.dt)
			if pods == 0 {
				continue
			}
			u[s].podSeconds += pods * tc.dt
			u[s].value += v
			u[s].requests += reqs
		}
	}
	return u
}

// fitBlock is how many consecutive ticks one stable sample sums. A tick's
// counter deltas span the scrapes it happened to see, a second more or less
// (the sandbox scrapes every second) for CPU and requests alike, so per-tick
// samples would line up along a line through 0 whatever the idle part; over a
// minute that jitter is a second in sixty.
const fitBlock = 6

// stableSamples are the stable's (requests per second per pod, figure per pod)
// samples of family fam, one per fitBlock ticks since before the rollout began.
func (e *evidence) stableSamples(fam family) (rs, us []float64) {
	var podSeconds, value, reqs float64
	n := 0
	for _, tc := range e.ticks {
		pods, v := tc.res[1].of(fam, tc.dt)
		if pods == 0 || tc.dt <= 0 {
			continue
		}
		podSeconds += pods * tc.dt
		value += v
		reqs += tc.stable.Requests
		if n++; n == fitBlock {
			rs, us = append(rs, reqs/podSeconds), append(us, value/podSeconds)
			podSeconds, value, reqs, n = 0, 0, 0, 0
		}
	}
	return rs, us
}

// histSince sums each side's request durations of the ticks after from.
func (e *evidence) histSince(from time.Time) (h [2]Histogram) {
	for i := len(e.ticks) - 1; i >= 0 && e.ticks[i].at.After(from); i-- {
		h[0] = h[0].Add(e.ticks[i].hist[0])
		h[1] = h[1].Add(e.ticks[i].hist[1])
	}
	return h
}

// lastAt is the time of the latest good tick after the baseline, zero before
// any: bad ticks are not added, so it is how fresh the evidence is.
func (e *evidence) lastAt() time.Time {
	if len(e.ticks) == 0 {
		return time.Time{}
	}
	return e.ticks[len(e.ticks)-1].at
}

// usageTicks yields the per-pod figures of family fam (cpu or load) of each
// tick since the canary's first traffic in which both sides had pods sampled;
// they are read at every tick, so nothing is allocated for them.
func (e *evidence) usageTicks(fam family) iter.Seq[usageTick] {
	return func(yield func(usageTick) bool) {
		for _, tc := range e.ticks {
			cp, cv := tc.res[0].of(fam, tc.dt)
			sp, sv := tc.res[1].of(fam, tc.dt)
			if tc.pre || tc.dt <= 0 || cp == 0 || sp == 0 {
				continue
			}
			t := usageTick{canary: cv / (cp * tc.dt), canaryRate: tc.canary.Requests / (cp * tc.dt),
				stable: sv / (sp * tc.dt), stableRate: tc.stable.Requests / (sp * tc.dt), requests: tc.canary.Requests}
			if !yield(t) {
				return
			}
		}
	}
}
