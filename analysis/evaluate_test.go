package analysis

import (
	"context"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Queries of testTarget() by role.
var (
	tg       = testTarget()
	cReq     = reqQ(tg, "statuses", canarySide, 0)
	sReq     = reqQ(tg, "statuses", stableSide, 0)
	cP99     = reqQ(tg, "latency", canarySide, 0.99)
	sP99     = reqQ(tg, "latency", stableSide, 0.99)
	cP50     = reqQ(tg, "latency", canarySide, 0.5)
	sP50     = reqQ(tg, "latency", stableSide, 0.5)
	cCPU     = podQ(tg, "cpu", canarySide)
	sCPU     = podQ(tg, "cpu", stableSide)
	cMem     = podQ(tg, "memory", canarySide)
	sMem     = podQ(tg, "memory", stableSide)
	cGrowth  = podQ(tg, "memory-growth", canarySide)
	sGrowth  = podQ(tg, "memory-growth", stableSide)
	cLoad    = podQ(tg, "load", canarySide)
	sLoad    = podQ(tg, "load", stableSide)
	alertsQ  = podQ(tg, "alerts", canarySide)
	mi       = float64(1 << 20)
	one      = func(a answer) []answer { return []answer{a} }
	fp       = func(v float64) *float64 { return &v }
	twoAlert = answer{series: []map[string]string{
		{"alertname": "KubePodCrashLooping", "namespace": "shop", "deployment": "web-canary"},
		{"alertname": "HighErrorRate", "namespace": "shop", "deployment": "web"},
	}}
)

type checkCase struct {
	name     string
	spec     string
	answers  map[string][]answer
	verdict  contract.Verdict
	reason   string // exact, unless it ends in "..." (then a prefix)
	value    *float64
	baseline *float64
}

func runCheckCases(t *testing.T, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeProm(t, tc.answers)
			r := evaluate(t, f, testOptions(), testTarget(), tc.spec)
			require.Len(t, r.Checks, 1)
			c := r.Checks[0]
			assert.Equal(t, tc.verdict, c.Verdict, c.Reason)
			assert.Equal(t, tc.verdict, r.Verdict)
			if p, ok := strings.CutSuffix(tc.reason, "..."); ok {
				assert.True(t, strings.HasPrefix(c.Reason, p), "reason %q, want prefix %q", c.Reason, p)
			} else {
				assert.Equal(t, tc.reason, c.Reason)
			}
			if tc.value != nil {
				require.NotNil(t, c.Value)
				assert.InDelta(t, *tc.value, *c.Value, 1e-9)
			}
			if tc.baseline != nil {
				require.NotNil(t, c.Baseline)
				assert.InDelta(t, *tc.baseline, *c.Baseline, 1e-9)
			}
		})
	}
}

func TestEvaluateVerdictsOfEveryCheckForm(t *testing.T) {
	runCheckCases(t, []checkCase{
		{name: "error rate within baseline allowance passes", spec: "error-rate<=1%+baseline",
			answers: map[string][]answer{cReq: one(reqs(995, 5)), sReq: one(reqs(996, 4))},
			verdict: contract.Pass, reason: "error rate 0.5% <= 0.4% + 1% baseline allowance", value: fp(0.005), baseline: fp(0.004)},
		{name: "error rate above baseline allowance fails", spec: "error-rate<=1%+baseline",
			answers: map[string][]answer{cReq: one(reqs(898, 102)), sReq: one(reqs(996, 4))},
			verdict: contract.Fail, reason: "error rate 10.2% > 0.4% + 1% baseline allowance", value: fp(0.102), baseline: fp(0.004)},
		{name: "error rate under absolute bound passes", spec: "error-rate<=2%",
			answers: map[string][]answer{cReq: one(reqs(985, 15))},
			verdict: contract.Pass, reason: "error rate 1.5% <= 2%", value: fp(0.015)},
		{name: "error rate over absolute bound fails", spec: "error-rate<=2%",
			answers: map[string][]answer{cReq: one(reqs(970, 30))},
			verdict: contract.Fail, reason: "error rate 3% > 2%"},
		{name: "p99 latency within ratio passes", spec: "latency-p99<=1.2x",
			answers: map[string][]answer{cReq: one(reqs(500, 0)), cP99: one(val(0.3)), sP99: one(val(0.28))},
			verdict: contract.Pass, reason: "p99 latency 300ms <= 1.2x stable 280ms (limit 336ms)", value: fp(0.3), baseline: fp(0.28)},
		{name: "p99 latency over ratio fails", spec: "latency-p99<=1.2x",
			answers: map[string][]answer{cReq: one(reqs(500, 0)), cP99: one(val(0.6)), sP99: one(val(0.28))},
			verdict: contract.Fail, reason: "p99 latency 600ms > 1.2x stable 280ms (limit 336ms)"},
		{name: "p50 latency uses the 0.5 quantile", spec: "latency-p50<=1.2x",
			answers: map[string][]answer{cReq: one(reqs(500, 0)), cP50: one(val(0.05)), sP50: one(val(0.05))},
			verdict: contract.Pass, reason: "p50 latency 50ms <= 1.2x stable 50ms (limit 60ms)"},
		{name: "p99 latency under absolute bound passes", spec: "latency-p99<=500ms",
			answers: map[string][]answer{cReq: one(reqs(500, 0)), cP99: one(val(0.45))},
			verdict: contract.Pass, reason: "p99 latency 450ms <= 500ms"},
		{name: "p99 latency over absolute bound fails", spec: "latency-p99<=0.5s",
			answers: map[string][]answer{cReq: one(reqs(500, 0)), cP99: one(val(1.2))},
			verdict: contract.Fail, reason: "p99 latency 1.2s > 500ms"},
		{name: "cpu within ratio passes", spec: "cpu<=1.3x",
			answers: map[string][]answer{cCPU: one(val(0.3)), sCPU: one(val(0.25))},
			verdict: contract.Pass, reason: "cpu 0.3 cores <= 1.3x stable 0.25 cores (limit 0.325 cores)", value: fp(0.3), baseline: fp(0.25)},
		{name: "cpu over ratio fails", spec: "cpu<=1.3x",
			answers: map[string][]answer{cCPU: one(val(0.5)), sCPU: one(val(0.25))},
			verdict: contract.Fail, reason: "cpu 0.5 cores > 1.3x stable 0.25 cores (limit 0.325 cores)"},
		{name: "cpu against idle stable uses the floor and passes", spec: "cpu<=1.3x",
			answers: map[string][]answer{cCPU: one(val(0.012)), sCPU: one(val(0))},
			verdict: contract.Pass, reason: "cpu 0.012 cores <= 1.3x stable 0 cores (limit 0.013 cores, from the 0.01 cores floor)"},
		{name: "cpu against idle stable uses the floor and fails", spec: "cpu<=1.3x",
			answers: map[string][]answer{cCPU: one(val(0.5)), sCPU: one(val(0))},
			verdict: contract.Fail, reason: "cpu 0.5 cores > 1.3x stable 0 cores (limit 0.013 cores, from the 0.01 cores floor)"},
		{name: "cpu over absolute bound fails", spec: "cpu<=500m",
			answers: map[string][]answer{cCPU: one(val(0.52))},
			verdict: contract.Fail, reason: "cpu 0.52 cores > 0.5 cores"},
		{name: "memory within ratio passes", spec: "memory<=1.3x",
			answers: map[string][]answer{cMem: one(val(200 * mi)), sMem: one(val(160 * mi))},
			verdict: contract.Pass, reason: "memory 200Mi <= 1.3x stable 160Mi (limit 208Mi)"},
		{name: "memory over ratio fails", spec: "memory<=1.3x",
			answers: map[string][]answer{cMem: one(val(300 * mi)), sMem: one(val(160 * mi))},
			verdict: contract.Fail, reason: "memory 300Mi > 1.3x stable 160Mi (limit 208Mi)"},
		{name: "memory over absolute bound fails", spec: "memory<=256Mi",
			answers: map[string][]answer{cMem: one(val(300 * mi))},
			verdict: contract.Fail, reason: "memory 300Mi > 256Mi"},
		{name: "memory growth within the default allowance passes", spec: "memory-growth",
			answers: map[string][]answer{cGrowth: one(val(1.5 * mi)), sGrowth: one(val(0.75 * mi))},
			verdict: contract.Pass, reason: "memory growth 1.5Mi/min <= 768Ki/min + 1Mi/min baseline allowance", value: fp(1.5 * mi), baseline: fp(0.75 * mi)},
		{name: "memory growth over its allowance fails", spec: "memory-growth<=4Mi+baseline",
			answers: map[string][]answer{cGrowth: one(val(6.4 * mi)), sGrowth: one(val(0))},
			verdict: contract.Fail, reason: "memory growth 6.4Mi/min > 0/min + 4Mi/min baseline allowance"},
		{name: "load within ratio passes", spec: "load<=1.5x",
			answers: map[string][]answer{cLoad: one(val(1.2)), sLoad: one(val(1))},
			verdict: contract.Pass, reason: "load 1.2 <= 1.5x stable 1 (limit 1.5)"},
		{name: "load over ratio fails", spec: "load<=1.5x",
			answers: map[string][]answer{cLoad: one(val(2)), sLoad: one(val(1))},
			verdict: contract.Fail, reason: "load 2 > 1.5x stable 1 (limit 1.5)"},
		{name: "load under absolute bound passes", spec: "load<=2",
			answers: map[string][]answer{cLoad: one(val(1.9))},
			verdict: contract.Pass, reason: "load 1.9 <= 2"},
		{name: "no firing alert passes", spec: "alerts",
			answers: map[string][]answer{alertsQ: one(noData)},
			verdict: contract.Pass, reason: "no alert firing", value: fp(0)},
		{name: "firing alerts fail and are named", spec: "alerts",
			answers: map[string][]answer{alertsQ: one(twoAlert)},
			verdict: contract.Fail, reason: "2 alert(s) firing: HighErrorRate, KubePodCrashLooping", value: fp(2)},
	})
}

func TestEvaluateFailsClosed(t *testing.T) {
	runCheckCases(t, []checkCase{
		{name: "HTTP error fails after retries", spec: "cpu<=500m",
			answers: map[string][]answer{cCPU: one(http500)},
			verdict: contract.Fail, reason: "query failed: canary: server_error: server error: 500..."},
		{name: "rejected query fails", spec: "cpu<=500m",
			answers: map[string][]answer{cCPU: one(answer{status: http.StatusBadRequest, errType: "bad_data"})},
			verdict: contract.Fail, reason: "query failed: canary: bad_data: injected failure"},
		{name: "timeout fails", spec: "memory<=256Mi",
			answers: map[string][]answer{cMem: one(blocked)},
			verdict: contract.Fail, reason: "query failed: canary: timed out after 200ms..."},
		{name: "empty canary result fails", spec: "cpu<=1.3x",
			answers: map[string][]answer{cCPU: one(noData), sCPU: one(val(0.25))},
			verdict: contract.Fail, reason: "no data for canary"},
		{name: "empty stable result fails", spec: "cpu<=1.3x",
			answers: map[string][]answer{cCPU: one(val(0.25)), sCPU: one(noData)},
			verdict: contract.Fail, reason: "no data for stable", value: fp(0.25)},
		{name: "NaN canary latency fails", spec: "latency-p99<=500ms",
			answers: map[string][]answer{cReq: one(reqs(100, 0)), cP99: one(nanData)},
			verdict: contract.Fail, reason: "NaN for canary"},
		{name: "infinite stable value fails", spec: "load<=1.5x",
			answers: map[string][]answer{cLoad: one(val(1)), sLoad: one(val(math.Inf(1)))},
			verdict: contract.Fail, reason: "+Inf for stable"},
		{name: "several series fail", spec: "load<=2",
			answers: map[string][]answer{cLoad: one(twoAlert)},
			verdict: contract.Fail, reason: "query for canary returned 2 series, want 1"},
		{name: "stable without requests gives no error-rate baseline", spec: "error-rate<=1%+baseline",
			answers: map[string][]answer{cReq: one(reqs(100, 0)), sReq: one(reqs(0, 0))},
			verdict: contract.Fail, reason: "no requests on stable in the window, so no error rate"},
		{name: "few canary requests are inconclusive", spec: "error-rate<=1%+baseline",
			answers: map[string][]answer{cReq: one(reqs(0, 5)), sReq: one(reqs(1000, 0))},
			verdict: contract.Inconclusive, reason: "not enough traffic on the canary (5 requests)"},
		{name: "no canary request series is inconclusive", spec: "latency-p99<=1.2x",
			answers: map[string][]answer{cReq: one(noData), cP99: one(nanData), sP99: one(val(0.2))},
			verdict: contract.Inconclusive, reason: "not enough traffic on the canary (0 requests)"},
		{name: "failed request count fails rather than inconclusive", spec: "latency-p99<=1.2x",
			answers: map[string][]answer{cReq: one(http500), cP99: one(val(0.2)), sP99: one(val(0.2))},
			verdict: contract.Fail, reason: "query failed: canary requests: server_error..."},
		{name: "a retry after a failure can pass", spec: "cpu<=500m",
			answers: map[string][]answer{cCPU: {http500, val(0.2)}},
			verdict: contract.Pass, reason: "cpu 0.2 cores <= 0.5 cores"},
	})
}

// The error share comes from the requests counted by status: a canary with only
// 2xx series has no errors, but requests without the status label (an application
// labelling it status_code, say) cannot be judged and fail naming the label,
// however many of them were errors. A partial answer (Prometheus warnings) fails.
func TestErrorRateTellsNoErrorsFromNoStatusLabel(t *testing.T) {
	unlabelled := answer{series: []map[string]string{{}}, values: []float64{1000}}
	mixed := answer{series: []map[string]string{{"code": "200"}, {}}, values: []float64{900, 100}}
	runCheckCases(t, []checkCase{
		{name: "only 2xx series is no errors and passes", spec: "error-rate<=1%+baseline",
			answers: map[string][]answer{cReq: one(answer{series: []map[string]string{{"code": "200"}, {"code": "404"}}, values: []float64{900, 100}}),
				sReq: one(reqs(1000, 0))},
			verdict: contract.Pass, reason: "error rate 0% <= 0% + 1% baseline allowance", value: fp(0)},
		{name: "canary requests without the status label fail naming it", spec: "error-rate<=1%+baseline",
			answers: map[string][]answer{cReq: one(unlabelled), sReq: one(reqs(1000, 0))},
			verdict: contract.Fail, reason: `1000 of 1000 requests on canary carry no "code" label, so their errors cannot be counted ` +
				`(set the label the metric uses with ROLLOUTD_STATUS_LABELS)`},
		{name: "stable requests without the status label fail too", spec: "error-rate<=1%+baseline",
			answers: map[string][]answer{cReq: one(reqs(1000, 0)), sReq: one(mixed)},
			verdict: contract.Fail, reason: `100 of 1000 requests on stable carry no "code" label...`},
		{name: "absolute bound without the status label fails", spec: "error-rate<=2%",
			answers: map[string][]answer{cReq: one(unlabelled)},
			verdict: contract.Fail, reason: `1000 of 1000 requests on canary carry no "code" label...`},
		{name: "latency does not need the status label", spec: "latency-p99<=500ms",
			answers: map[string][]answer{cReq: one(unlabelled), cP99: one(val(0.2))},
			verdict: contract.Pass, reason: "p99 latency 200ms <= 500ms"},
		{name: "a partial answer fails", spec: "error-rate<=2%",
			answers: map[string][]answer{cReq: one(answer{series: []map[string]string{{"code": "200"}}, values: []float64{1000},
				warn: []string{"partial response: store 10.0.0.7:10901 unreachable"}})},
			verdict: contract.Fail, reason: "query failed: canary requests: partial or unreliable answer, Prometheus warned: partial response: store 10.0.0.7:10901 unreachable"},
		{name: "a NaN count fails", spec: "error-rate<=2%",
			answers: map[string][]answer{cReq: one(answer{series: []map[string]string{{"code": "200"}, {"code": "500"}}, values: []float64{1000, math.NaN()}})},
			verdict: contract.Fail, reason: "canary requests: NaN in the request count"},
	})
}

func TestStatusLabelIsConfigurablePerSource(t *testing.T) {
	opts := testOptions()
	opts.StatusLabels = map[contract.Source]string{contract.SourceService: "status_code"}
	target := testTarget()
	target.StatusLabel = "status_code"
	cq, sq := reqQ(target, "statuses", canarySide, 0), reqQ(target, "statuses", stableSide, 0)
	assert.True(t, strings.HasPrefix(cq, "sum by (status_code) (increase(http_requests_total{"), cq)
	f := newFakeProm(t, map[string][]answer{
		cq: one(answer{series: []map[string]string{{"status_code": "200"}, {"status_code": "503"}}, values: []float64{500, 500}}),
		sq: one(answer{series: []map[string]string{{"status_code": "200"}}, values: []float64{1000}}),
	})
	r := evaluate(t, f, opts, testTarget(), "error-rate<=1%+baseline")
	assert.Equal(t, contract.Fail, r.Verdict)
	assert.Equal(t, "error rate 50% > 0% + 1% baseline allowance", r.Checks[0].Reason)
}

func TestParseStatusLabels(t *testing.T) {
	got, err := ParseStatusLabels(" service=status_code , istio=code")
	require.NoError(t, err)
	assert.Equal(t, map[contract.Source]string{contract.SourceService: "status_code", contract.SourceIstio: "code"}, got)
	got, err = ParseStatusLabels("")
	require.NoError(t, err)
	assert.Empty(t, got)
	for _, bad := range []string{"service", "linkerd=code", "service=", "service=a b", "nginx=__name__", `service=code"}`} {
		_, err := ParseStatusLabels(bad)
		assert.Error(t, err, bad)
	}
}

func TestEvaluateRetriesOnlyRetryableErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		a     answer
		calls int
	}{
		{"server error is retried", http500, 2},
		{"bad query is not retried", answer{status: http.StatusBadRequest, errType: "bad_data"}, 1},
		{"timeout is retried", blocked, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeProm(t, map[string][]answer{cCPU: one(tc.a)})
			opts := testOptions()
			opts.QueryTimeout = 50 * time.Millisecond
			r := evaluate(t, f, opts, testTarget(), "cpu<=1")
			assert.Equal(t, contract.Fail, r.Verdict)
			assert.Equal(t, tc.calls, f.count(cCPU))
		})
	}
}

func TestEvaluateSendsEachQueryOncePerEvaluation(t *testing.T) {
	f := newFakeProm(t, map[string][]answer{
		cReq: one(reqs(999, 1)), sReq: one(reqs(999, 1)),
		cP99: one(val(0.2)), sP99: one(val(0.2)), cP50: one(val(0.1)),
	})
	r := evaluate(t, f, testOptions(), testTarget(), "error-rate<=1%+baseline, latency-p99<=1.2x, latency-p50<=500ms")
	assert.Equal(t, contract.Pass, r.Verdict, r.Checks)
	for _, q := range []string{cReq, sReq, cP99, sP99, cP50} {
		assert.Equal(t, 1, f.count(q), q)
	}
	// A second evaluation asks again: the cache lives for one evaluation only.
	evaluate(t, f, testOptions(), testTarget(), "latency-p50<=500ms")
	assert.Equal(t, 2, f.count(cReq))
}

func TestEvaluateCombinesChecksInOrder(t *testing.T) {
	f := newFakeProm(t, map[string][]answer{
		cCPU: one(val(0.1)), sCPU: one(val(0.1)), cMem: one(noData), cReq: one(reqs(3, 0)),
	})
	r := evaluate(t, f, testOptions(), testTarget(), "cpu<=1.3x, memory<=256Mi, error-rate<=2%")
	require.Len(t, r.Checks, 3)
	assert.Equal(t, []string{"cpu", "memory", "error-rate"}, []string{r.Checks[0].Name, r.Checks[1].Name, r.Checks[2].Name})
	assert.Equal(t, []contract.Verdict{contract.Pass, contract.Fail, contract.Inconclusive}, []contract.Verdict{r.Checks[0].Verdict, r.Checks[1].Verdict, r.Checks[2].Verdict})
	assert.Equal(t, contract.Fail, r.Verdict)
	assert.Equal(t, []string{"memory", "error-rate"}, r.FailedNames())
}

func TestEvaluateRejectsAnInvalidTarget(t *testing.T) {
	f := newFakeProm(t, nil)
	bad := testTarget()
	bad.Source, bad.Ingress, bad.Window = contract.SourceNginx, "", 0
	r := evaluate(t, f, testOptions(), bad, "cpu<=1.3x")
	assert.Equal(t, contract.Fail, r.Verdict)
	assert.Equal(t, "invalid target: ingress is empty; window must be positive", r.Checks[0].Reason)
}

func TestEvaluateWithCanceledContextFails(t *testing.T) {
	f := newFakeProm(t, map[string][]answer{cCPU: one(val(0.1))})
	checks, err := contract.ParseChecks("cpu<=500m")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := NewAnalyzer(f.api(), testOptions()).Evaluate(ctx, testTarget(), checks)
	assert.Equal(t, contract.Fail, r.Verdict)
	assert.Contains(t, r.Checks[0].Reason, "context canceled")
}

func TestAnalyzerIsSafeForConcurrentGates(t *testing.T) {
	f := newFakeProm(t, map[string][]answer{cCPU: one(val(0.3)), sCPU: one(val(0.25))})
	opts := testOptions()
	opts.MaxConcurrent = 1
	a := NewAnalyzer(f.api(), opts)
	checks, err := contract.ParseChecks("cpu<=1.3x")
	require.NoError(t, err)
	var wg sync.WaitGroup
	verdicts := make([]contract.Verdict, 20)
	for i := range verdicts {
		wg.Go(func() { verdicts[i] = a.Evaluate(context.Background(), testTarget(), checks).Verdict })
	}
	wg.Wait()
	for _, v := range verdicts {
		assert.Equal(t, contract.Pass, v)
	}
	assert.Equal(t, 20, f.count(cCPU))
}

func TestAnalyzerMetrics(t *testing.T) {
	f := newFakeProm(t, map[string][]answer{cCPU: one(http500), cMem: one(val(mi))})
	reg := prometheus.NewPedanticRegistry()
	opts := testOptions()
	opts.Registerer = reg
	checks, err := contract.ParseChecks("cpu<=1, memory<=256Mi")
	require.NoError(t, err)
	NewAnalyzer(f.api(), opts).Evaluate(context.Background(), testTarget(), checks)

	assert.Equal(t, 2.0, testutil.ToFloat64(counterOf(t, reg, "rolloutd_analysis_query_errors_total", "server_error")))
	n, err := testutil.GatherAndCount(reg, "rolloutd_analysis_check_results_total")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// counterOf finds a registered counter's value for one label value.
func counterOf(t *testing.T, reg *prometheus.Registry, name, label string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == label {
				c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
				c.Add(m.GetCounter().GetValue())
				return c
			}
		}
	}
	t.Fatalf("no %s{%s}", name, label)
	return nil
}
