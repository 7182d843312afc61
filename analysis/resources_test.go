package analysis

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// drawStableCPU draws per-pod (traffic, cpu) samples of a stable whose pods use
// idle + k*r cores with 2% noise, at the given traffic levels per pod.
func drawStableCPU(rng *rand.Rand, idle, k float64, levels ...float64) (rs, us []float64) {
	for _, r := range levels {
		for range 10 {
			rs = append(rs, r)
			us = append(us, (idle+k*r)*(1+0.02*rng.NormFloat64()))
		}
	}
	return rs, us
}

// A CPU-bound service with 10 stable pods at 200 requests/s and half of it on 5
// canary pods: the canary's pods serve twice the stable's traffic each. Compared
// for the same work, the healthy canary passes cpu<=1.3x and one using 50% more
// CPU per request fails, although per pod the healthy one uses 1.8x the stable.
func TestSameWorkCancelsTheCanarysShareOfTrafficPerPod(t *testing.T) {
	checks, err := contract.ParseChecks("cpu<=1.3x")
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(7, 8))
	const idle, k = 0.02, 0.01 // cores; core-seconds per request
	// Before the rollout at 20 req/s per pod, then at 18, 16, 14, 12 and 10 as
	// the canary took 10..50% of the traffic.
	rs, us := drawStableCPU(rng, idle, k, 20, 20, 20, 18, 16, 14, 12, 10)
	stable := usage{podSeconds: 10 * 60, value: 10 * 60 * (idle + k*10), requests: 10 * 60 * 10}
	for _, tc := range []struct {
		name    string
		perReq  float64
		verdict contract.Verdict
	}{
		{"healthy", k, contract.Pass},
		{"50% more CPU per request", 1.5 * k, contract.Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			canary := usage{podSeconds: 5 * 60, value: 5 * 60 * (idle + tc.perReq*20), requests: 5 * 60 * 20}
			r, early := sameWorkResult(checks[0], canary, stable, newStableFit(rs, us), 20)
			assert.Equal(t, tc.verdict == contract.Pass, early, "fitted: a pass may advance early")
			assert.Equal(t, tc.verdict, r.Verdict, r.Reason)
			assert.Contains(t, r.Reason, "stable fitted at the canary's 20 req/s per pod")
			require.NotNil(t, r.Baseline)
			assert.InDelta(t, idle+k*20, *r.Baseline, 0.01, "the stable's figure at the canary's traffic")
		})
	}
}

// Without spread in the stable's traffic the idle part cannot be told: the
// stable's per-pod figure is scaled by the traffic ratio when the canary's pods
// serve more, never counting that share against the canary.
func TestSameWorkWithoutAFitScalesByTrafficOnlyUpwards(t *testing.T) {
	stable := usage{podSeconds: 100, value: 20, requests: 1000} // 0.2 cores at 10 req/s
	fig := sameWork(stable, 20, newStableFit([]float64{10, 10, 10}, []float64{0.2, 0.21, 0.19}))
	assert.InDelta(t, 0.4, fig.value, 1e-9)
	assert.Contains(t, fig.how, "idle part not told")
	assert.InDelta(t, 0.2, fig.strict, 1e-9, "strict: all of it idle")
	fig = sameWork(stable, 5, newStableFit(nil, nil))
	assert.InDelta(t, 0.2, fig.value, 1e-9, "a canary serving less per pod is compared per pod")
	assert.InDelta(t, 0.1, fig.strict, 1e-9, "strict: all of it per request")
}

func TestSameWorkNeedsTrafficAndData(t *testing.T) {
	checks, err := contract.ParseChecks("load<=1.5x")
	require.NoError(t, err)
	stable := usage{podSeconds: 100, value: 30, requests: 1000}
	r, _ := sameWorkResult(checks[0], usage{podSeconds: 10, value: 3, requests: 5}, stable, newStableFit(nil, nil), 20)
	assert.Equal(t, contract.Inconclusive, r.Verdict, r.Reason)
	r, _ = sameWorkResult(checks[0], usage{requests: 500}, stable, newStableFit(nil, nil), 20)
	assert.Equal(t, contract.Fail, r.Verdict)
	assert.Equal(t, "no data for canary", r.Reason)
}

func podSample(pod string, v float64) *model.Sample {
	return &model.Sample{Metric: model.Metric{"namespace": "shop", "pod": model.LabelValue(pod)}, Value: model.SampleValue(v)}
}

// cAdvisor series are told apart by pod name for every source; CPU counters
// are deltas, load gauges are read as they are; ticks up to the rollout's start
// feed only the stable's samples, one per fitBlock ticks.
func TestEvidenceReadsResourcesPerPod(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	from := t0.Add(fitBlock * 10 * time.Second)
	e := newEvidence(nginxTarget(), from)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 10 * time.Second) }
	stable := func(v float64) *model.Sample { return nginxSeries("shop", "web-ing", "", "200", v) }
	canary := func(v float64) *model.Sample { return nginxSeries("shop", "web-ing", "shop-web-canary-80", "200", v) }
	reqs, cpu := 0.0, 100.0
	e.addTick(at(0), answers{famRequests: {stable(reqs)}, famCPU: {podSample("web-abc12-xyz12", cpu)}})
	for i := 1; i <= 2*fitBlock; i++ {
		in := answers{}
		if i <= fitBlock { // before the rollout: 20 req/s, 0.2 cores
			reqs, cpu = reqs+200, cpu+2
			in[famRequests], in[famCPU] = model.Vector{stable(reqs)}, model.Vector{podSample("web-abc12-xyz12", cpu)}
		} else { // 10% on the canary: 18 req/s and 0.18 cores on the stable
			reqs, cpu = reqs+180, cpu+1.8
			c := float64(i-fitBlock) * 20
			in[famRequests] = model.Vector{stable(reqs), canary(c)}
			in[famCPU] = model.Vector{podSample("web-abc12-xyz12", cpu), podSample("web-canary-abc12-xyz12", c*0.015)}
			in[famLoad] = model.Vector{podSample("web-canary-abc12-xyz12", 0.5)}
		}
		e.addTick(at(i), in)
	}
	rs, us := e.stableSamples(famCPU)
	require.Len(t, rs, 2)
	assert.InDeltaSlice(t, []float64{20, 18}, rs, 1e-9)
	assert.InDeltaSlice(t, []float64{0.2, 0.18}, us, 1e-9)
	assert.Equal(t, Counts{Requests: fitBlock * 180}, e.total[1], "the pre-rollout ticks are not in the totals")
	u := e.usageSince(from, famCPU)
	assert.InDelta(t, fitBlock*10, u[0].podSeconds, 1e-9)
	assert.InDelta(t, 2, u[0].rate(), 1e-9)
	assert.InDelta(t, 0.03, u[0].perPod(), 1e-9)
	l := e.usageSince(from, famLoad)
	assert.InDelta(t, 0.5, l[0].perPod(), 1e-9)
}

// A cpu or load check decided without the stable's fit (its traffic per pod
// never varied, so the idle part is not told) can hide a regression: a canary
// whose pods serve less passes the plain per-pod comparison with 50% more CPU per
// request. Such a step advances early only if the canary also passes the strict
// figure (all of the stable's use per request); with the fit it may.
func TestStepWithoutTheStablesFitAdvancesEarlyOnlyOnTheStrictFigure(t *testing.T) {
	checks, err := contract.ParseChecks("cpu<=1.3x")
	require.NoError(t, err)
	const varied, flat = "varied", "flat"
	for _, tc := range []struct {
		name   string
		stable string  // the stable's traffic before the rollout
		perReq float64 // the canary's core-seconds per request (the stable's: 0.001)
		early  bool
		fitted bool
	}{
		{"no fit, healthy", flat, 0.001, true, false},
		{"no fit, 50% more CPU per request", flat, 0.0015, false, false},
		{"fit, healthy", varied, 0.001, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			levels := map[string][]float64{flat: {200, 200, 200, 200}, varied: {200, 100, 300, 200}}[tc.stable]
			from, tr := stableThenStep(levels, tc.perReq, checks)
			s := &Sampler{opts: SamplerOptions{MinStepExposure: DefaultMinStepExposure, MinStepRequests: DefaultMinStepRequests}, minReq: 20}
			st := s.standing(tr, from)
			require.Len(t, st.StepChecks, 1)
			r := st.StepChecks[0]
			assert.Equal(t, contract.Pass, r.Verdict, "the step's end passes it: %s", r.Reason)
			assert.Equal(t, !tc.fitted, strings.Contains(r.Reason, "idle part not told"), r.Reason)
			assert.Equal(t, tc.early, st.Exposed, r.Reason)
		})
	}
}

// stableThenStep is a rollout's evidence: a stable pod at the given requests per
// tick for fitBlock ticks each (0.02 cores idle + 0.001 core-seconds per
// request), then a step of 2*fitBlock ticks with the stable as at the end and a
// canary pod at 150 requests a tick using perReq core-seconds per request. It
// returns the step's start.
func stableThenStep(levels []float64, perReq float64, checks []contract.Check) (time.Time, *tracked) {
	t0 := time.Unix(1_700_000_000, 0)
	from := t0.Add(time.Duration(len(levels)*fitBlock) * 10 * time.Second)
	tr := &tracked{checks: checks, ev: newEvidence(nginxTarget(), from), fams: familiesOf(checks)}
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 10 * time.Second) }
	stable := func(v float64) *model.Sample { return nginxSeries("shop", "web-ing", "", "200", v) }
	canary := func(v float64) *model.Sample { return nginxSeries("shop", "web-ing", "shop-web-canary-80", "200", v) }
	reqs, cpu, creqs, ccpu := 0.0, 100.0, 0.0, 0.0
	tr.ev.addTick(at(0), answers{famRequests: {stable(reqs)}, famCPU: {podSample("web-abc12-xyz12", cpu)}})
	i := 0
	for _, per := range levels {
		for range fitBlock {
			i++
			reqs, cpu = reqs+per, cpu+10*0.02+per*0.001
			tr.ev.addTick(at(i), answers{famRequests: {stable(reqs)}, famCPU: {podSample("web-abc12-xyz12", cpu)}})
		}
	}
	last := levels[len(levels)-1]
	for range 2 * fitBlock {
		i++
		reqs, cpu, creqs, ccpu = reqs+last, cpu+10*0.02+last*0.001, creqs+150, ccpu+10*0.02+150*perReq
		tr.ev.addTick(at(i), answers{famRequests: {stable(reqs), canary(creqs)},
			famCPU: {podSample("web-abc12-xyz12", cpu), podSample("web-canary-abc12-xyz12", ccpu)}})
	}
	return from, tr
}
