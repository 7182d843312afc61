package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// answer is how the fake Prometheus responds to one query.
type answer struct {
	value   float64             // one unlabelled sample, unless another field is set
	empty   bool                // no series
	series  []map[string]string // several samples with these labels (value 1 unless values says)
	values  []float64           // per series in series: instant values
	streams [][]float64         // per series in series: range query values, one per step
	warn    []string            // warnings sent with the data
	status  int                 // an HTTP error status with a Prometheus error body
	errType string              // the error body's errorType (default server_error)
	block   bool                // hold the request until the client gives up
	meet    *rendezvous         // hold the request until all its rendezvous' queries are in flight
	samples []float64           // range queries: one series, one value per step
}

func val(v float64) answer { return answer{value: v} }

// rendezvous releases the requests that arrive at it once n of them are in
// flight together.
type rendezvous struct {
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func newRendezvous(n int) *rendezvous { return &rendezvous{n: n, all: make(chan struct{})} }

// arrive waits until n requests have arrived, or ctx is done (false).
func (r *rendezvous) arrive(ctx context.Context) bool {
	r.mu.Lock()
	r.arrived++
	if r.arrived == r.n {
		close(r.all)
	}
	r.mu.Unlock()
	select {
	case <-r.all:
		return true
	case <-ctx.Done():
		return false
	}
}

var (
	noData  = answer{empty: true}
	nanData = answer{value: math.NaN()}
	http500 = answer{status: http.StatusInternalServerError}
	blocked = answer{block: true}
)

// fakeProm is an httptest Prometheus answering /api/v1/query in the real JSON
// format. Each query's answers are used in order, the last one repeating; a query
// it was not told about fails the test.
type fakeProm struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	answers  map[string][]answer
	calls    map[string]int
	requests []url.Values
}

func newFakeProm(t *testing.T, answers map[string][]answer) *fakeProm {
	f := &fakeProm{t: t, answers: answers, calls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeProm) api() promv1.API {
	c, err := api.NewClient(api.Config{Address: f.srv.URL})
	if err != nil {
		f.t.Fatal(err)
	}
	return promv1.NewAPI(c)
}

// count reports how many times q was received.
func (f *fakeProm) count(q string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[q]
}

func (f *fakeProm) next(q string) (answer, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	seq, ok := f.answers[q]
	if !ok || len(seq) == 0 {
		return answer{}, false
	}
	n := f.calls[q]
	f.calls[q]++
	return seq[min(n, len(seq)-1)], true
}

func (f *fakeProm) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/query" && r.URL.Path != "/api/v1/query_range" {
		http.NotFound(w, r)
		return
	}
	q := r.FormValue("query")
	f.mu.Lock()
	f.requests = append(f.requests, r.Form)
	f.mu.Unlock()
	a, ok := f.next(q)
	if !ok {
		f.t.Errorf("unexpected query %s", q)
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "errorType": "bad_data", "error": "unexpected query"})
		return
	}
	ts, _ := strconv.ParseFloat(r.FormValue("time"), 64)
	switch {
	case r.URL.Path == "/api/v1/query_range" && a.status == 0 && !a.block:
		start, _ := strconv.ParseFloat(r.FormValue("start"), 64)
		step, _ := strconv.ParseFloat(r.FormValue("step"), 64)
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "warnings": a.warn,
			"data": map[string]any{"resultType": "matrix", "result": a.matrix(start, step)}})
	case a.block:
		<-r.Context().Done()
	case a.meet != nil && !a.meet.arrive(r.Context()):
		return // the client gave up before the others arrived
	case a.status != 0:
		et := a.errType
		if et == "" {
			et = "server_error"
		}
		writeJSON(w, a.status, map[string]any{"status": "error", "errorType": et, "error": "injected failure"})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "warnings": a.warn,
			"data": map[string]any{"resultType": "vector", "result": a.vector(ts)}})
	}
}

func (a answer) vector(ts float64) []any {
	point := func(v float64) []any { return []any{ts, strconv.FormatFloat(v, 'f', -1, 64)} }
	switch {
	case a.empty:
		return []any{}
	case a.series != nil:
		out := []any{}
		for i, m := range a.series {
			v := 1.0
			if i < len(a.values) {
				v = a.values[i]
			}
			out = append(out, map[string]any{"metric": m, "value": point(v)})
		}
		return out
	}
	return []any{map[string]any{"metric": map[string]string{}, "value": point(a.value)}}
}

func (a answer) matrix(start, step float64) []any {
	stream := func(metric map[string]string, samples []float64) map[string]any {
		var values []any
		for i, v := range samples {
			values = append(values, []any{start + float64(i)*step, strconv.FormatFloat(v, 'f', -1, 64)})
		}
		return map[string]any{"metric": metric, "values": values}
	}
	switch {
	case a.empty:
		return []any{}
	case a.streams != nil:
		out := []any{}
		for i, m := range a.series {
			out = append(out, stream(m, a.streams[i]))
		}
		return out
	case a.samples == nil:
		return []any{}
	}
	return []any{stream(map[string]string{}, a.samples)}
}

// reqs answers a statuses query (label "code"): ok requests answered 200 and
// errs answered 500.
func reqs(ok, errs float64) answer {
	return answer{series: []map[string]string{{"code": "200"}, {"code": "500"}}, values: []float64{ok, errs}}
}

// reqSteps answers a statuses range query: per step, ok 200s and errs 500s.
func reqSteps(ok, errs []float64) answer {
	return answer{series: []map[string]string{{"code": "200"}, {"code": "500"}}, streams: [][]float64{ok, errs}}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(body); err != nil {
		panic(fmt.Sprintf("encode: %v", err))
	}
}

// testTarget is a service-source target; tests change fields as needed.
func testTarget() Target {
	return Target{
		Namespace: "shop", Deployment: "web", Canary: "web-canary",
		Service: "web", Ingress: "web-ing", Source: contract.SourceService,
		Window: 5 * time.Minute, End: time.Unix(1_700_000_000, 0),
	}
}

// testOptions are fast options: short timeout and backoff, two attempts.
func testOptions() Options {
	return Options{QueryTimeout: 200 * time.Millisecond, MaxConcurrent: 4,
		RetryBackoff: time.Millisecond, MaxAttempts: 2, MinRequests: 20}
}

// Query keys for the fake: the same renderers the analyzer uses; the golden
// tests pin their exact text.
func reqQ(t Target, name string, s side, quantile float64) string {
	q, err := requestQuery(t, name, s, quantile)
	if err != nil {
		panic(err)
	}
	return q
}

func podQ(t Target, name string, s side) string {
	q, err := podQuery(t, name, s)
	if err != nil {
		panic(err)
	}
	return q
}

func evaluate(t *testing.T, f *fakeProm, opts Options, target Target, spec string) Result {
	t.Helper()
	checks, err := contract.ParseChecks(spec)
	if err != nil {
		t.Fatalf("ParseChecks(%q): %v", spec, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return NewAnalyzer(f.api(), opts).Evaluate(ctx, target, checks)
}
