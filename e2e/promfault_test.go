//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// promFault is what a faultyProm does to the Prometheus answers it relays.
type promFault int

const (
	promHealthy promFault = iota // relays answers as they are
	promNaN                      // every sample value becomes NaN
	promEmpty                    // every result is an empty vector or matrix
	promSlow                     // answers after faultyProm.delay
)

// faultyProm is a test-controlled Prometheus in front of the sandbox's: the daemon
// queries it, and the test decides from one moment to the next how it answers.
type faultyProm struct {
	URL   string
	fault atomic.Int32
	delay time.Duration
	// pending counts the queries held back by promSlow right now.
	pending atomic.Int32
	// armed, when set, is the fault to start right after the first sampler
	// tick evaluated after its time; faultAt is that tick's time, once started.
	armed   atomic.Pointer[armedFault]
	faultAt atomic.Pointer[time.Time]
}

type armedFault struct {
	after time.Time
	fault promFault
}

func startFaultyProm(t *testing.T, upstream string, delay time.Duration) *faultyProm {
	t.Helper()
	target, err := url.Parse(upstream)
	require.NoError(t, err)
	p := &faultyProm{delay: delay}
	quit := make(chan struct{})
	rp := httputil.NewSingleHostReverseProxy(target)
	director := rp.Director
	rp.Director = func(r *http.Request) {
		director(r)
		r.Header.Del("Accept-Encoding") // keep answers readable for rewriting
	}
	rp.ErrorLog = log.New(io.Discard, "", 0) // the daemon's timeouts cancel requests on purpose
	rp.ModifyResponse = func(resp *http.Response) error {
		if promFault(p.fault.Load()) != promNaN || resp.StatusCode != http.StatusOK {
			return nil
		}
		return rewriteBody(resp, nanSamples)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch promFault(p.fault.Load()) {
		case promEmpty:
			if strings.HasPrefix(r.URL.Path, "/api/v1/query") {
				writeEmpty(w, r.URL.Path)
				return
			}
		case promSlow:
			p.pending.Add(1)
			defer p.pending.Add(-1)
			select {
			case <-time.After(p.delay):
			case <-r.Context().Done():
				return
			case <-quit:
				return
			}
		}
		if a := p.armed.Load(); a != nil {
			at, tick := sampledAt(r)
			rp.ServeHTTP(w, r)
			if tick && at.After(a.after) && p.armed.CompareAndSwap(a, nil) {
				p.set(a.fault) // this tick's answer went out healthy
				p.faultAt.Store(&at)
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	// Before Close, which waits for every request: let held-back ones go.
	t.Cleanup(func() { close(quit) })
	p.URL = srv.URL
	return p
}

// set switches the fault for every later query.
func (p *faultyProm) set(f promFault) { p.fault.Store(int32(f)) }

// faultAfterTick starts fault right after relaying, as it is, the first
// sampler tick evaluated after at: that tick is the last good one.
func (p *faultyProm) faultAfterTick(at time.Time, f promFault) {
	p.armed.Store(&armedFault{after: at, fault: f})
}

// samplerTick is how the sampler's grouped nginx request query begins
// (analysis/sampler_queries.go); the gates' own queries take a rate or increase.
const samplerTick = "sum by (namespace, ingress, canary, status) (nginx_ingress_controller_requests{"

// sampledAt reports the evaluation time of a sampler tick's request query, and
// false for any other request. It leaves r's body to be relayed.
func sampledAt(r *http.Request) (time.Time, bool) {
	if r.URL.Path != "/api/v1/query" {
		return time.Time{}, false
	}
	form := r.URL.Query()
	if r.Body != nil {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			return time.Time{}, false
		}
		posted, _ := url.ParseQuery(string(body))
		for k, v := range posted {
			form[k] = append(form[k], v...)
		}
	}
	if !strings.HasPrefix(form.Get("query"), samplerTick) {
		return time.Time{}, false
	}
	sec, err := strconv.ParseFloat(form.Get("time"), 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, int64(sec*float64(time.Second))), true
}

func writeEmpty(w http.ResponseWriter, path string) {
	kind := "vector"
	if strings.HasSuffix(path, "query_range") {
		kind = "matrix"
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"`+kind+`","result":[]}}`)
}

func rewriteBody(resp *http.Response, edit func(map[string]any)) error {
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err == nil {
		edit(doc)
		if b, err := json.Marshal(doc); err == nil {
			raw = b
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	resp.ContentLength = int64(len(raw))
	resp.Header.Set("Content-Length", strconv.Itoa(len(raw)))
	return nil
}

// nanSamples replaces every sample value of a query answer by "NaN".
func nanSamples(doc map[string]any) {
	data, _ := doc["data"].(map[string]any)
	if data == nil {
		return
	}
	nan := func(pair any) {
		if p, ok := pair.([]any); ok && len(p) == 2 {
			p[1] = "NaN"
		}
	}
	switch res := data["result"].(type) {
	case []any:
		if data["resultType"] == "scalar" || data["resultType"] == "string" {
			nan(res)
			return
		}
		for _, s := range res {
			series, _ := s.(map[string]any)
			nan(series["value"])
			if values, ok := series["values"].([]any); ok {
				for _, v := range values {
					nan(v)
				}
			}
		}
	}
}

// Given an opted-in Deployment whose daemon queries Prometheus through a proxy,
// when the proxy answers NaN, empty results, or slower than the query timeout
// (from the start, or only after a first gate passed), then a healthy release is
// never promoted: it is rolled back, and nothing of it reaches the stable pods.
// Answers that are slow but within the timeout still promote.
//
// After a passing gate the fault starts right after the first sampler tick of
// the next step, so that step has real evidence from before the fault, and its
// gate comes well after that evidence went stale (3 ticks): the gate must not
// decide from it, however long Prometheus keeps answering (badly). A fault
// starting later could legitimately leave the gate fresh evidence; one starting
// before the step's first tick would leave it none, and prove nothing about
// staleness.
func TestFaultPrometheusBadAnswersNeverPromote(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		fault     promFault
		afterGate bool // the fault starts once the first gate has passed
		timeout   string
		want      contract.Phase
	}{
		{name: "NaN samples after a passing gate", fault: promNaN, afterGate: true, want: contract.RolledBack},
		{name: "NaN samples from the start", fault: promNaN, want: contract.RolledBack},
		{name: "empty results after a passing gate", fault: promEmpty, afterGate: true, want: contract.RolledBack},
		{name: "answers slower than the query timeout", fault: promSlow, timeout: "1s", want: contract.RolledBack},
		{name: "slow answers within the query timeout", fault: promSlow, timeout: "5s", want: contract.Succeeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, ns := namespaceScenario(t)
			delay := 1500 * time.Millisecond
			if tc.timeout == "5s" {
				delay = 300 * time.Millisecond
			}
			proxy := startFaultyProm(t, env.PromURL, delay)
			daemonEnv := map[string]string{"ROLLOUTD_PROMETHEUS_URL": proxy.URL}
			if tc.timeout != "" {
				daemonEnv["ROLLOUTD_QUERY_TIMEOUT"] = tc.timeout
			}
			if tc.afterGate {
				daemonEnv["ROLLOUTD_SAMPLE_INTERVAL"] = sampleEvery.String() // stale after 6s
			}
			env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns}, Env: daemonEnv})
			a := faultApp("web", "nginx")
			a.annotations = map[string]string{"rolloutd.io/steps": "20,50", "rolloutd.io/interval": "3s",
				"rolloutd.io/checks": "error-rate<=1%+baseline, latency-p99<=1.5x"}
			if tc.afterGate {
				// The second step's gate comes 15s after its start, 13s or more
				// after its first tick; one failure is tolerated, so a second
				// post-fault gate runs too.
				a.annotations["rolloutd.io/interval"] = stepEvery.String()
				a.annotations["rolloutd.io/threshold"] = "1"
			}
			a.create(t, env.Kube, ns)
			sw := watchStable(t, env.Kube, ns)
			if !tc.afterGate {
				proxy.set(tc.fault)
			}

			release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)
			if tc.afterGate {
				breakAfterNextTick(t, env, proxy, ns, a.name, tc.fault)
			}

			st := waitPhase(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded, contract.RolledBack)
			require.Equal(t, tc.want, st.Phase, "message: %s, checks: %+v", st.Message, st.Checks)
			t.Logf("%s: %s", st.Phase, st.Message)
			proxy.set(promHealthy)
			requireInvariants(t, env.Kube, ns)
			images := sw.requireOnlyVetted(t)
			if tc.want == contract.RolledBack {
				require.Empty(t, images, "nothing of the release reached the stable pods")
			}
		})
	}
}

// The timings of the scenarios that break Prometheus after a passing gate.
const (
	sampleEvery = 2 * time.Second
	stepEvery   = 15 * time.Second
)

// breakAfterNextTick waits for the first gate to pass, then starts fault right
// after the sampler's first tick of the second step, and checks that the step's
// gate will come after the evidence of that tick went stale (3 ticks), with room
// to spare.
func breakAfterNextTick(t *testing.T, env *framework.Env, proxy *faultyProm, ns, name string, fault promFault) {
	t.Helper()
	var st contract.Status
	framework.Eventually(t, time.Minute, "the first gate passed", func() (bool, error) {
		st, _ = readStatus(t, env.Kube, ns, name)
		return st.Step >= 2 && st.Phase == contract.Progressing && st.StepStartedAt != nil, fmt.Errorf("%s step %d", st.Phase, st.Step)
	})
	stepStart := *st.StepStartedAt
	proxy.faultAfterTick(stepStart, fault)
	var at time.Time
	framework.Eventually(t, 30*time.Second, "the fault started after a tick of the second step", func() (bool, error) {
		if p := proxy.faultAt.Load(); p != nil {
			at = *p
			return true, nil
		}
		return false, nil
	})
	stale := at.Add(3 * sampleEvery)
	t.Logf("second step from %s; last good tick %s after it; its gate at +%s, the evidence stale from +%s",
		stepStart.Format(time.TimeOnly), at.Sub(stepStart).Round(time.Millisecond), stepEvery, stale.Sub(stepStart).Round(time.Millisecond))
	require.Less(t, stale.Sub(stepStart), stepEvery-3*time.Second,
		"the fault came too late for the second step's gate to see stale evidence; the scenario needs it early")
}
