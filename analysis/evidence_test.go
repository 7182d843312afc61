package analysis

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
)

func nginxSeries(ns, ing, canary, status string, v float64) *model.Sample {
	return &model.Sample{Metric: model.Metric{"namespace": model.LabelValue(ns), "ingress": model.LabelValue(ing),
		"canary": model.LabelValue(canary), "status": model.LabelValue(status)}, Value: model.SampleValue(v)}
}

func nginxTarget() Target {
	t := testTarget()
	t.Source = contract.SourceNginx
	return t
}

// Deltas of the grouped raw counters: the first answer is the baseline; a series
// that appears later counts from 0; one missing from an answer keeps its value; one
// that went down was reset and adds nothing that tick; other rollouts' series and
// NaN are ignored.
func TestEvidenceTakesDeltasOfTheGroupedCounters(t *testing.T) {
	e := newEvidence(nginxTarget(), time.Time{})
	t0 := time.Unix(1_700_000_000, 0)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 10 * time.Second) }
	e.add(at(0), model.Vector{nginxSeries("shop", "web-ing", "", "200", 5000), nginxSeries("other", "web-ing", "", "500", 7)})
	e.add(at(1), model.Vector{
		nginxSeries("shop", "web-ing", "", "200", 5100),                 // stable +100
		nginxSeries("shop", "web-ing", "shop-web-canary-80", "500", 20), // new canary series: +20 errors
		nginxSeries("shop", "web-ing", "shop-web-canary-80", "200", 3),
		nginxSeries("shop", "other-ing", "", "500", 99), // another rollout's
	})
	e.add(at(2), model.Vector{ // stable missing from this answer (a missed scrape)
		nginxSeries("shop", "web-ing", "shop-web-canary-80", "500", 40),
	})
	e.add(at(3), model.Vector{
		nginxSeries("shop", "web-ing", "", "200", 5300),                         // +200 since its last value
		nginxSeries("shop", "web-ing", "shop-web-canary-80", "500", 5),          // reset: nothing this tick
		nginxSeries("shop", "web-ing", "shop-web-canary-80", "200", nanValue()), // NaN
	})
	e.add(at(4), model.Vector{nginxSeries("shop", "web-ing", "shop-web-canary-80", "500", 15)}) // +10 after the reset
	assert.Equal(t, Counts{Requests: 53, Errors: 50}, e.total[0], "canary")
	assert.Equal(t, Counts{Requests: 300}, e.total[1], "stable")
	c, s := e.since(at(2))
	assert.Equal(t, Counts{Requests: 10, Errors: 10}, c, "canary after the second tick")
	assert.Equal(t, Counts{Requests: 200}, s)
	assert.Equal(t, at(4), e.lastAt())
}

// scrapedAt is the scrape-time series of one nginx group in a grouped answer.
func scrapedAt(ns, ing, canary string, at time.Time) *model.Sample {
	return &model.Sample{Metric: model.Metric{"namespace": model.LabelValue(ns), "ingress": model.LabelValue(ing),
		"canary": model.LabelValue(canary), scrapedLabel: "true"}, Value: model.SampleValue(float64(at.UnixMilli()) / 1000)}
}

// Given a release made right after a rollback, whose canary Service's counters
// were last scraped before the release began, the errors the previous canary
// answered before then and scraped after it are not the new revision's: a
// canary series counts only from a value scraped after the rollout began.
func TestEvidenceCountsTheCanaryOnlyFromAScrapeAfterTheRolloutBegan(t *testing.T) {
	from := time.Unix(1_700_000_000, 0)
	e := newEvidence(nginxTarget(), from)
	const canary = "shop-web-canary-80"
	e.add(from.Add(-time.Second), model.Vector{ // the baseline, read before the rollout began
		nginxSeries("shop", "web-ing", "", "200", 1000), scrapedAt("shop", "web-ing", "", from.Add(-2*time.Second)),
		nginxSeries("shop", "web-ing", canary, "500", 100), scrapedAt("shop", "web-ing", canary, from.Add(-2*time.Second)),
		scrapedAt("other", "web-ing", canary, from.Add(time.Hour)), // another rollout's group
	})
	e.add(from.Add(2*time.Second), model.Vector{ // the previous canary's last errors, scraped after the start
		nginxSeries("shop", "web-ing", "", "200", 1100), scrapedAt("shop", "web-ing", "", from.Add(time.Second)),
		nginxSeries("shop", "web-ing", canary, "500", 124), scrapedAt("shop", "web-ing", canary, from.Add(time.Second)),
	})
	e.add(from.Add(4*time.Second), model.Vector{ // the new revision's first requests
		nginxSeries("shop", "web-ing", "", "200", 1180), scrapedAt("shop", "web-ing", "", from.Add(3*time.Second)),
		nginxSeries("shop", "web-ing", canary, "500", 124),
		nginxSeries("shop", "web-ing", canary, "200", 16), scrapedAt("shop", "web-ing", canary, from.Add(3*time.Second)),
	})
	assert.Equal(t, Counts{Requests: 16}, e.total[0], "canary: only what was answered after the start")
	assert.Equal(t, Counts{Requests: 180}, e.total[1], "stable: every delta after the baseline")

	// Without scrape times (a source or a test that gives none), deltas count as before.
	e = newEvidence(nginxTarget(), from)
	e.add(from.Add(-time.Second), model.Vector{nginxSeries("shop", "web-ing", canary, "500", 100)})
	e.add(from.Add(2*time.Second), model.Vector{nginxSeries("shop", "web-ing", canary, "500", 124)})
	assert.Equal(t, Counts{Requests: 24, Errors: 24}, e.total[0])
}

// NaN and ±Inf samples are ignored entirely: a counter keeps its last finite
// value, so the next finite one counts the requests since then, not a reset.
func TestEvidenceIgnoresNonFiniteSamples(t *testing.T) {
	for name, bad := range map[string]float64{"NaN": nanValue(), "+Inf": math.Inf(1), "-Inf": math.Inf(-1)} {
		t.Run(name, func(t *testing.T) {
			e := newEvidence(nginxTarget(), time.Time{})
			t0 := time.Unix(1_700_000_000, 0)
			at := func(i int) time.Time { return t0.Add(time.Duration(i) * 10 * time.Second) }
			stable := func(v float64) *model.Sample { return nginxSeries("shop", "web-ing", "", "200", v) }
			canary := func(v float64) *model.Sample { return nginxSeries("shop", "web-ing", "shop-web-canary-80", "500", v) }
			e.add(at(0), model.Vector{stable(1000), canary(10)})
			e.add(at(1), model.Vector{stable(1100), canary(bad)}) // the canary's sample is bad, the stable's counts
			e.add(at(2), model.Vector{stable(1200), canary(25)})  // +15 since its last finite value
			e.add(at(3), model.Vector{stable(1300), canary(bad)}) // bad again ...
			e.add(at(4), model.Vector{stable(1400), canary(bad)}) // ... for two ticks
			e.add(at(5), model.Vector{stable(1500), canary(40)})  // +15
			assert.Equal(t, Counts{Requests: 30, Errors: 30}, e.total[0], "canary")
			assert.Equal(t, Counts{Requests: 500}, e.total[1], "stable")
			for k, v := range e.last {
				assert.False(t, math.IsNaN(v) || math.IsInf(v, 0), "%s kept %v as its last value", k, v)
			}
		})
	}
}

// A tick whose request answer has no finite series of the rollout is a gap, not
// a tick without traffic: it adds nothing (no tick, no counter value, no
// baseline), so the evidence is as old as its last good answer.
func TestEvidenceTickWithoutAFiniteSeriesIsAGap(t *testing.T) {
	e := newEvidence(nginxTarget(), time.Time{})
	t0 := time.Unix(1_700_000_000, 0)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 10 * time.Second) }
	assert.False(t, e.add(at(0), nil), "an empty first answer is no baseline")
	assert.False(t, e.add(at(1), model.Vector{nginxSeries("shop", "web-ing", "", "200", nanValue())}))
	assert.True(t, e.add(at(2), model.Vector{nginxSeries("shop", "web-ing", "", "200", 1000)}), "the first good answer is the baseline")
	assert.Equal(t, at(2), e.baseAt)
	assert.True(t, e.add(at(3), model.Vector{nginxSeries("shop", "web-ing", "", "200", 1100)}))
	for i, vec := range []model.Vector{
		nil,
		{nginxSeries("shop", "web-ing", "", "200", nanValue()), nginxSeries("shop", "web-ing", "c", "500", nanValue())},
		{nginxSeries("shop", "web-ing", "", "200", math.Inf(1))},
		{nginxSeries("shop", "other-ing", "", "200", 5000)}, // another rollout's only
		{scrapedAt("shop", "web-ing", "", at(7))},           // a scrape time is no count
	} {
		assert.False(t, e.addTick(at(4+i), answers{famRequests: vec, famLatency: {bucketSeries(model.Metric{"namespace": "shop",
			"ingress": "web-ing", "canary": ""}, "+Inf", 9000)}}), "answer %d", i)
	}
	assert.Equal(t, at(3), e.lastAt(), "the bad answers did not refresh the evidence")
	assert.Len(t, e.ticks, 1)
	assert.False(t, e.based[famLatency], "a bad tick sets no baseline of another family either")
	assert.True(t, e.add(at(10), model.Vector{nginxSeries("shop", "web-ing", "", "200", 1300)}))
	assert.Equal(t, Counts{Requests: 300}, e.total[1], "the good tick after the gap counts the requests of the gap")
	assert.Equal(t, 70.0, e.ticks[1].dt, "seconds since the previous good tick")
}

func TestEvidenceCountsRequestsWithoutTheStatusLabelApart(t *testing.T) {
	e := newEvidence(nginxTarget(), time.Time{})
	t0 := time.Unix(1_700_000_000, 0)
	e.add(t0, model.Vector{nginxSeries("shop", "web-ing", "", "200", 100)})
	e.add(t0.Add(10*time.Second), model.Vector{nginxSeries("shop", "web-ing", "", "200", 100), nginxSeries("shop", "web-ing", "c", "", 30)})
	assert.Equal(t, Counts{Requests: 30, Unlabelled: 30}, e.total[0])
}

func nanValue() float64 { var z float64; return z / z }

func TestServiceSeriesAreToldApartByPodName(t *testing.T) {
	tg := testTarget()
	pods := podRegexps(tg)
	for pod, want := range map[string]string{
		"web-canary-5d8f9c7b6-abcde": "canary", "web-5d8f9c7b6-abcde": "stable", "web-canary-x": "", "webx-5d8f9c7b6-abcde": "",
	} {
		s, ok := sideOf(tg, famRequests, model.Metric{"namespace": "shop", "pod": model.LabelValue(pod)}, pods)
		got := ""
		if ok {
			got = s.String()
		}
		assert.Equal(t, want, got, pod)
	}
}

func bucketSeries(m model.Metric, le string, v float64) *model.Sample {
	out := model.Metric{model.BucketLabel: model.LabelValue(le)}
	for k, val := range m {
		out[k] = val
	}
	return &model.Sample{Metric: out, Value: model.SampleValue(v)}
}

// Request-duration buckets are deltas of grouped counters like the requests,
// kept per side and bound; Istio's milliseconds are read as seconds.
func TestEvidenceKeepsEachSidesDurationBuckets(t *testing.T) {
	canary := model.Metric{"namespace": "shop", "ingress": "web-ing", "canary": "shop-web-canary-80"}
	stable := model.Metric{"namespace": "shop", "ingress": "web-ing", "canary": ""}
	reqs := model.Vector{nginxSeries("shop", "web-ing", "", "200", 1000)}
	e := newEvidence(nginxTarget(), time.Time{})
	t0 := time.Unix(1_700_000_000, 0)
	e.addTick(t0, answers{famRequests: reqs, famLatency: {bucketSeries(stable, "0.1", 900), bucketSeries(stable, "+Inf", 1000)}})
	e.addTick(t0.Add(10*time.Second), answers{famRequests: reqs, famLatency: {
		bucketSeries(stable, "0.1", 990), bucketSeries(stable, "+Inf", 1100),
		bucketSeries(canary, "0.1", 5), bucketSeries(canary, "+Inf", 10),
	}})
	assert.Equal(t, Histogram{0.1: 5, math.Inf(1): 10}, e.hist[0], "canary")
	assert.Equal(t, Histogram{0.1: 90, math.Inf(1): 100}, e.hist[1], "stable")
	assert.Equal(t, e.hist, e.histSince(t0))

	ist := testTarget()
	ist.Source = contract.SourceIstio
	e = newEvidence(ist, time.Time{})
	dest := func(workload string) model.Metric {
		return model.Metric{"reporter": "destination", "destination_workload_namespace": "shop", "destination_workload": model.LabelValue(workload)}
	}
	istReqs := model.Vector{{Metric: dest(ist.Deployment), Value: 1000}}
	e.addTick(t0, answers{famRequests: istReqs, famLatency: {bucketSeries(dest(ist.Deployment), "+Inf", 1000)}})
	e.addTick(t0.Add(10*time.Second), answers{famRequests: istReqs, famLatency: {bucketSeries(dest(ist.Canary), "250", 7), bucketSeries(dest(ist.Canary), "+Inf", 8)}})
	assert.Equal(t, Histogram{0.25: 7, math.Inf(1): 8}, e.hist[0])
}

// A family whose first answer is missing (its query failed) or has nothing of
// the rollout sets its baseline at its first answer with a series of the
// rollout: its history is not counted as new.
func TestEvidenceBasesAFamilyAtItsFirstAnswer(t *testing.T) {
	stable := model.Metric{"namespace": "shop", "ingress": "web-ing", "canary": ""}
	reqs := model.Vector{nginxSeries("shop", "web-ing", "", "200", 1000)}
	for name, first := range map[string]answers{"failed": {famRequests: reqs}, "empty": {famRequests: reqs, famLatency: nil}} {
		t.Run(name, func(t *testing.T) {
			e := newEvidence(nginxTarget(), time.Time{})
			t0 := time.Unix(1_700_000_000, 0)
			e.addTick(t0, first)
			e.addTick(t0.Add(10*time.Second), answers{famRequests: reqs, famLatency: {bucketSeries(stable, "+Inf", 5000)}})
			e.addTick(t0.Add(20*time.Second), answers{famRequests: reqs, famLatency: {bucketSeries(stable, "+Inf", 5100)}})
			assert.Equal(t, Histogram{math.Inf(1): 100}, e.hist[1])
		})
	}
}
