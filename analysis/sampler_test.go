package analysis

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustGroupQuery(t *testing.T, s contract.Source, label, ns string) string {
	t.Helper()
	q, err := groupQuery(s, label, namespacesRe([]string{ns}))
	require.NoError(t, err)
	return q
}

func TestGroupQueriesReadRawCountersOfTheAnalysedNamespaces(t *testing.T) {
	q, err := groupQuery(contract.SourceNginx, "status", namespacesRe([]string{"b.x", "a", "b.x"}))
	require.NoError(t, err)
	assert.Equal(t, `sum by (namespace, ingress, canary, status) (nginx_ingress_controller_requests{namespace=~"a|b\\.x"}) or `+
		`label_replace(min by (namespace, ingress, canary) (timestamp(nginx_ingress_controller_requests{namespace=~"a|b\\.x"})), "rolloutd_scraped", "true", "", "")`, q)
	q, err = groupQuery(contract.SourceIstio, "response_code", namespacesRe([]string{"shop"}))
	require.NoError(t, err)
	group := "reporter, destination_workload_namespace, destination_workload, destination_service_namespace, destination_service_name"
	dst := `istio_requests_total{reporter="destination",destination_workload_namespace=~"shop"}`
	src := `istio_requests_total{reporter="source",destination_workload="unknown",destination_service_namespace=~"shop"}`
	assert.Equal(t, `sum by (`+group+`, response_code) (`+dst+` or `+src+`) or label_replace(`+
		`min by (`+group+`) (timestamp(`+dst+`)) or min by (`+group+`) (timestamp(`+src+`)), "rolloutd_scraped", "true", "", "")`, q)
	q, err = groupQuery(contract.SourceService, "code", namespacesRe([]string{"shop"}))
	require.NoError(t, err)
	assert.Equal(t, `sum by (namespace, pod, code) (http_requests_total{namespace=~"shop"}) or `+
		`label_replace(min by (namespace, pod) (timestamp(http_requests_total{namespace=~"shop"})), "rolloutd_scraped", "true", "", "")`, q)
}

// Given three rollouts under continuous judgement (two behind ingress-nginx in two
// namespaces, one by pod metrics), the sampler first rebuilds each one's evidence
// from Prometheus since its rollout began (one range query each), then sends one
// grouped query per source per tick however many rollouts there are, and notifies
// the rollout whose canary fails every request.
func TestSamplerRebuildsThenSendsOneQueryPerSourcePerTick(t *testing.T) {
	web := nginxTarget()
	api := nginxTarget()
	api.Namespace, api.Deployment, api.Canary, api.Ingress = "shop2", "api", "api-canary", "api-ing"
	svc := testTarget()
	svc.Deployment, svc.Canary = "svc", "svc-canary"
	stable := map[string]string{"namespace": "shop", "ingress": "web-ing", "canary": "", "status": "200"}
	canary := map[string]string{"namespace": "shop", "ingress": "web-ing", "canary": "shop-web-canary-80", "status": "500"}
	tick := map[string]string{"namespace": "shop", "ingress": "web-ing", "canary": "shop-web-canary-80", "status": "500"}
	nginxTick, err := groupQuery(contract.SourceNginx, "status", namespacesRe([]string{"shop", "shop2"}))
	require.NoError(t, err)
	f := newFakeProm(t, map[string][]answer{
		mustGroupQuery(t, contract.SourceNginx, "status", "shop"): one(answer{series: []map[string]string{stable, canary},
			streams: [][]float64{{1000, 1100, 1200, 1300}, {0, 50, 100, 150}}}),
		mustGroupQuery(t, contract.SourceNginx, "status", "shop2"): one(noData),
		mustGroupQuery(t, contract.SourceService, "code", "shop"):  one(noData),
		nginxTick: one(answer{series: []map[string]string{tick}, values: []float64{300}}),
		mustGroupQuery(t, contract.SourceService, "code", "shop"): one(noData),
	})
	var mu sync.Mutex
	var notified []string
	s := NewSampler(NewAnalyzer(f.api(), testOptions()), SamplerOptions{Notify: func(ns, name string) {
		mu.Lock()
		notified = append(notified, ns+"/"+name)
		mu.Unlock()
	}})
	checks, err := contract.ParseChecks("error-rate<=1%+baseline, memory<=1.3x")
	require.NoError(t, err)
	ctx := context.Background()
	since := time.Now().Add(-35 * time.Second)
	// api and svc have no series at all: ready, but nothing to judge.
	got := observeUntilRebuilt(ctx, t, s, checks, since, web, api, svc)
	require.Len(t, got.Checks, 1, "only error-rate is judged continuously")
	assert.Equal(t, contract.Fail, got.Verdict, got.Checks[0].Reason)
	assert.Equal(t, Counts{Requests: 150, Errors: 150}, got.StepCanary)

	s.Tick(ctx, time.Now().Add(time.Second))
	assert.Equal(t, 1, f.count(nginxTick), "one nginx query for both nginx rollouts")
	assert.Equal(t, 1, f.count(mustGroupQuery(t, contract.SourceNginx, "status", "shop")), "the rebuild's range query ran once")
	mu.Lock()
	assert.Equal(t, []string{"shop/web"}, notified)
	mu.Unlock()
	web.Window, web.End = 42*time.Second, time.Now() // a later gate's window keeps the evidence
	again := s.Observe(ctx, web, "rev1", since, since, checks)
	assert.Equal(t, Counts{Requests: 300, Errors: 300}, again.StepCanary, "the tick's 150 new errors were added")

	s.Forget("shop", "web")
	assert.Nil(t, s.Observe(ctx, web, "rev1", since, since, nil), "no sequential check, nothing to judge")
}

// Evidence whose ticks stopped (Prometheus unreachable) never decides: Observe
// returns nothing, so the gate queries for itself and fails closed.
func TestSamplerEvidenceGoesStaleWhenTicksStop(t *testing.T) {
	web := nginxTarget()
	stable := map[string]string{"namespace": "shop", "ingress": "web-ing", "canary": "", "status": "200"}
	f := newFakeProm(t, map[string][]answer{
		mustGroupQuery(t, contract.SourceNginx, "status", "shop"): one(answer{series: []map[string]string{stable},
			streams: [][]float64{{1000, 1100, 1200, 1300}}}),
	})
	s := NewSampler(NewAnalyzer(f.api(), testOptions()), SamplerOptions{})
	checks, err := contract.ParseChecks(contract.DefaultChecks)
	require.NoError(t, err)
	since := time.Now().Add(-2 * time.Minute) // the answer's last step is 30s after since: 90s old
	k := rolloutKey{web.Namespace, web.Deployment}
	tr := &tracked{revision: "rev1", since: since, ev: newEvidence(web, since), checks: checks[:1], fams: familiesOf(checks[:1]), rebuild: true}
	s.rebuildEvidence(context.Background(), k, tr)
	require.True(t, tr.ready)
	require.Len(t, tr.ev.ticks, 3, "the steps without data added nothing")
	assert.Nil(t, s.standingIfFresh(tr, since), "stale evidence never decides")
	tr.ev.add(time.Now(), model.Vector{nginxSeries("shop", "web-ing", "", "200", 1400)})
	assert.Nil(t, s.standingIfFresh(tr, since), "fresh, but no canary request seen yet: the gate queries for itself")
	tr.ev.add(time.Now(), model.Vector{nginxSeries("shop", "web-ing", "", "200", 1500),
		nginxSeries("shop", "web-ing", "shop-web-canary-80", "200", 50)})
	assert.NotNil(t, s.standingIfFresh(tr, since), "a new tick with canary requests makes it decide again")
}

// A tick whose request answer has no finite series of the rollout (Prometheus
// answering, but with NaN or nothing of it) is no evidence: it does not refresh
// the evidence, so counts from before the fault go stale and never decide, and
// it notifies nothing. A good tick after it refreshes and notifies again.
func TestSamplerBadAnswersNeitherRefreshNorNotify(t *testing.T) {
	web := nginxTarget()
	canary := "shop-web-canary-80"
	key := queryKey{fam: famRequests, source: contract.SourceNginx, label: "status"}
	checks, err := contract.ParseChecks("error-rate<=1%+baseline")
	require.NoError(t, err)
	cases := []struct {
		name string
		got  map[queryKey]model.Vector
	}{
		{name: "NaN samples", got: map[queryKey]model.Vector{key: {nginxSeries("shop", "web-ing", "", "200", nanValue()),
			nginxSeries("shop", "web-ing", canary, "500", nanValue())}}},
		{name: "+Inf samples", got: map[queryKey]model.Vector{key: {nginxSeries("shop", "web-ing", "", "200", math.Inf(1))}}},
		{name: "empty answer", got: map[queryKey]model.Vector{key: {}}},
		{name: "only another rollout's series", got: map[queryKey]model.Vector{key: {nginxSeries("shop", "other-ing", "", "200", 7000)}}},
		{name: "request query failed", got: map[queryKey]model.Vector{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var notified []string
			s := NewSampler(NewAnalyzer(newFakeProm(t, nil).api(), testOptions()), SamplerOptions{Notify: func(ns, name string) {
				notified = append(notified, ns+"/"+name) // apply calls it on the test's goroutine
			}})
			now := time.Now()
			since := now.Add(-time.Minute)
			good := now.Add(-40 * time.Second) // older than 3 ticks of 10s
			tr := &tracked{revision: "rev1", since: since, ev: newEvidence(web, since), checks: checks, fams: familiesOf(checks),
				ready: true, stepStart: since}
			s.rollouts[rolloutKey{web.Namespace, web.Deployment}] = tr
			tr.ev.add(since, model.Vector{nginxSeries("shop", "web-ing", "", "200", 1000)})
			// The canary fails every request: a conclusive standing, not yet notified in this step.
			tr.ev.add(good, model.Vector{nginxSeries("shop", "web-ing", "", "200", 3000), nginxSeries("shop", "web-ing", canary, "500", 300)})
			require.Equal(t, contract.Fail, s.standing(tr, since).Verdict)

			s.apply(now, tc.got)
			assert.Equal(t, good, tr.ev.lastAt(), "the bad tick did not refresh the evidence")
			assert.Len(t, tr.ev.ticks, 1, "the bad tick was not added")
			assert.Nil(t, s.standingIfFresh(tr, since), "evidence from before the fault is stale and never decides")
			assert.Empty(t, notified, "a bad tick notifies nothing")

			later := now.Add(time.Second)
			s.apply(later, map[queryKey]model.Vector{key: {nginxSeries("shop", "web-ing", "", "200", 3100),
				nginxSeries("shop", "web-ing", canary, "500", 310)}})
			assert.Equal(t, later, tr.ev.lastAt(), "a good tick refreshes the evidence")
			require.NotNil(t, s.standingIfFresh(tr, since))
			assert.Equal(t, Counts{Requests: 310, Errors: 310}, tr.ev.total[0], "nothing was counted twice or lost")
			assert.Equal(t, []string{"shop/web"}, notified, "the good tick's conclusive standing is notified")
		})
	}
}

// Given two nginx rollouts with a latency check, the sampler rebuilds both
// families (requests and duration buckets) from Prometheus, then sends one
// grouped query per family per tick for both, and a canary twice as slow as
// the stable in its tail fails the latency check from the buckets alone.
func TestSamplerReadsDurationBucketsWithOneQueryPerTick(t *testing.T) {
	web := nginxTarget()
	api := nginxTarget()
	api.Namespace, api.Deployment, api.Canary, api.Ingress = "shop2", "api", "api-canary", "api-ing"
	req := func(canary, status string) map[string]string {
		return map[string]string{"namespace": "shop", "ingress": "web-ing", "canary": canary, "status": status}
	}
	bucket := func(canary, le string) map[string]string {
		return map[string]string{"namespace": "shop", "ingress": "web-ing", "canary": canary, "le": le}
	}
	c := "shop-web-canary-80"
	nss := namespacesRe([]string{"shop", "shop2"})
	reqTick, err := groupQuery(contract.SourceNginx, "status", nss)
	require.NoError(t, err)
	latTick, err := latencyQuery(contract.SourceNginx, nss)
	require.NoError(t, err)
	latWeb, err := latencyQuery(contract.SourceNginx, namespacesRe([]string{"shop"}))
	require.NoError(t, err)
	latAPI, err := latencyQuery(contract.SourceNginx, namespacesRe([]string{"shop2"}))
	require.NoError(t, err)
	f := newFakeProm(t, map[string][]answer{
		mustGroupQuery(t, contract.SourceNginx, "status", "shop"): one(answer{series: []map[string]string{req("", "200"), req(c, "200")},
			streams: [][]float64{{0, 10000, 20000, 30000}, {0, 1000, 2000, 3000}}}),
		mustGroupQuery(t, contract.SourceNginx, "status", "shop2"): one(noData),
		// The stable's p99 is in (50ms, 100ms]; a tenth of the canary's requests take over 250ms.
		latWeb: one(answer{series: []map[string]string{bucket("", "0.05"), bucket("", "0.1"), bucket("", "+Inf"),
			bucket(c, "0.1"), bucket(c, "0.25"), bucket(c, "+Inf")},
			streams: [][]float64{{0, 9500, 19000, 28500}, {0, 9990, 19980, 29970}, {0, 10000, 20000, 30000},
				{0, 800, 1600, 2400}, {0, 900, 1800, 2700}, {0, 1000, 2000, 3000}}}),
		latAPI:  one(noData),
		reqTick: one(noData),
		latTick: one(noData),
	})
	s := NewSampler(NewAnalyzer(f.api(), testOptions()), SamplerOptions{})
	checks, err := contract.ParseChecks("error-rate<=1%+baseline, latency-p99<=1.5x, memory<=1.3x")
	require.NoError(t, err)
	ctx := context.Background()
	since := time.Now().Add(-35 * time.Second)
	got := observeUntilRebuilt(ctx, t, s, checks, since, web, api)
	require.Len(t, got.Checks, 2, "error-rate and latency are judged continuously")
	assert.Equal(t, contract.Pass, got.Checks[0].Verdict, got.Checks[0].Reason)
	assert.Equal(t, contract.Fail, got.Checks[1].Verdict, got.Checks[1].Reason)
	assert.Equal(t, contract.Fail, got.Verdict)
	assert.Equal(t, 1, f.count(latWeb), "one range query per family in the rebuild")

	s.Tick(ctx, time.Now().Add(time.Second))
	assert.Equal(t, 1, f.count(reqTick), "one request query for both rollouts")
	assert.Equal(t, 1, f.count(latTick), "one bucket query for both rollouts")
}

// Rebuilds take at most a quarter of the query slots: many rollouts starting at
// once each rebuild their evidence with range queries, and the sampler's ticks
// and the gates must still find slots. A rebuild that cannot get a turn before
// its deadline leaves the rollout not ready, to be rebuilt at the next reconcile,
// without sending a query.
func TestSamplerRebuildsTakeAtMostAQuarterOfTheQuerySlots(t *testing.T) {
	web := nginxTarget()
	f := newFakeProm(t, map[string][]answer{})
	a := NewAnalyzer(f.api(), testOptions())
	s := NewSampler(a, SamplerOptions{})
	require.Equal(t, max(1, cap(a.prom.sem)/4), cap(s.rebuilds))
	for range cap(s.rebuilds) {
		s.rebuilds <- struct{}{} // every turn taken by rebuilds in flight
	}
	checks, err := contract.ParseChecks(contract.DefaultChecks)
	require.NoError(t, err)
	since := time.Now()
	k := rolloutKey{web.Namespace, web.Deployment}
	tr := &tracked{revision: "rev1", since: since, ev: newEvidence(web, since), checks: checks[:1], fams: familiesOf(checks[:1]), rebuild: true}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // its deadline has passed
	s.rebuildEvidence(ctx, k, tr)
	assert.False(t, tr.ready, "not rebuilt")
	assert.False(t, tr.rebuild, "retried at the next reconcile")
	assert.Equal(t, 0, f.count(mustGroupQuery(t, contract.SourceNginx, "status", "shop")), "no query sent")
}

// observeUntilRebuilt observes main and others (revision rev1, analysed
// since since) until main has a verdict and the evidence of each of others is
// rebuilt, and returns main's.
func observeUntilRebuilt(ctx context.Context, t *testing.T, s *Sampler, checks []contract.Check, since time.Time, main Target, others ...Target) *Sequential {
	t.Helper()
	var got *Sequential
	require.Eventually(t, func() bool {
		got = s.Observe(ctx, main, "rev1", since, since, checks)
		for _, o := range others {
			s.Observe(ctx, o, "rev1", since, since, checks)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, o := range others {
			if !s.rollouts[rolloutKey{o.Namespace, o.Deployment}].ready {
				return false
			}
		}
		return got != nil
	}, 5*time.Second, 5*time.Millisecond, "evidence rebuilt")
	return got
}

// A sampler on its own clock (a program replaying simulated time) judges
// freshness and rebuilds by that clock: evidence a day old by the wall clock is
// fresh when the clock says the tick was just now, and Ready reports the rebuild.
func TestSamplerReadsItsClock(t *testing.T) {
	web := nginxTarget()
	stable := map[string]string{"namespace": "shop", "ingress": "web-ing", "canary": "", "status": "200"}
	canary := map[string]string{"namespace": "shop", "ingress": "web-ing", "canary": "shop-web-canary-80", "status": "200"}
	tick, err := groupQuery(contract.SourceNginx, "status", namespacesRe([]string{"shop"}))
	require.NoError(t, err)
	f := newFakeProm(t, map[string][]answer{
		tick: {{series: []map[string]string{stable}, streams: [][]float64{{1000}}},
			{series: []map[string]string{stable, canary}, values: []float64{1100, 50}}},
	})
	var mu sync.Mutex
	now := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := NewSampler(NewAnalyzer(f.api(), testOptions()), SamplerOptions{Now: clock})
	checks, err := contract.ParseChecks("error-rate<=1%+baseline")
	require.NoError(t, err)
	ctx := context.Background()
	since := clock()
	assert.False(t, s.Ready(web.Namespace, web.Deployment), "not tracked yet")
	require.Eventually(t, func() bool {
		s.Observe(ctx, web, "rev1", since, since, checks)
		return s.Ready(web.Namespace, web.Deployment)
	}, 5*time.Second, 5*time.Millisecond, "evidence rebuilt")
	mu.Lock()
	now = now.Add(DefaultSampleInterval)
	mu.Unlock()
	s.Tick(ctx, clock())
	got := s.Observe(ctx, web, "rev1", since, since, checks)
	require.NotNil(t, got, "fresh by the sampler's clock")
	assert.Equal(t, Counts{Requests: 50}, got.StepCanary)
}

// A tick sends its grouped queries together, so that it lasts as long as the
// slowest of them, not their sum: here each of the tick's three queries is held
// until all three are in flight at once, and the tick still adds its evidence.
func TestSamplerSendsATicksQueriesTogether(t *testing.T) {
	web := nginxTarget()
	stable := map[string]string{"namespace": "shop", "ingress": "web-ing", "canary": "", "status": "200"}
	canary := map[string]string{"namespace": "shop", "ingress": "web-ing", "canary": "shop-web-canary-80", "status": "200"}
	nss := namespacesRe([]string{"shop"})
	reqTick, err := groupQuery(contract.SourceNginx, "status", nss)
	require.NoError(t, err)
	latTick, err := latencyQuery(contract.SourceNginx, nss)
	require.NoError(t, err)
	cpuTick, err := resourceQuery(famCPU, nss)
	require.NoError(t, err)
	meet := newRendezvous(3)
	f := newFakeProm(t, map[string][]answer{
		// The rebuild's range queries, then the tick's instant ones.
		reqTick: {{series: []map[string]string{stable, canary}, streams: [][]float64{{1000}, {10}}},
			{meet: meet, series: []map[string]string{stable, canary}, values: []float64{1100, 60}}},
		latTick: {noData, {meet: meet, empty: true}},
		cpuTick: {noData, {meet: meet, empty: true}},
	})
	s := NewSampler(NewAnalyzer(f.api(), testOptions()), SamplerOptions{})
	checks, err := contract.ParseChecks("error-rate<=1%+baseline, latency-p99<=1.5x, cpu<=1.3x")
	require.NoError(t, err)
	ctx := context.Background()
	since := time.Now().Truncate(time.Second)
	require.Eventually(t, func() bool {
		s.Observe(ctx, web, "rev1", since, since, checks)
		return s.Ready(web.Namespace, web.Deployment)
	}, 5*time.Second, 5*time.Millisecond, "evidence rebuilt")

	at := time.Now().Add(DefaultSampleInterval)
	s.Tick(ctx, at)
	for _, q := range []string{reqTick, latTick, cpuTick} {
		assert.Equal(t, 2, f.count(q), "the rebuild's query, then one at the tick: %s", q)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.True(t, s.rollouts[rolloutKey{web.Namespace, web.Deployment}].ev.lastAt().Equal(at),
		"the tick's answers were added: its queries were in flight together")
}
