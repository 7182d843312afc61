package analysis

import (
	"errors"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"math"
	"strings"
	"testing"
	"time"
)

// FuzzParseChecks: the rolloutd.io/checks grammar never panics, rejects with
// ErrInvalidCheck, accepts only finite non-negative bounds given once per check,
// and renders what it accepted in a form that parses back to the same checks.
func FuzzParseChecks(f *testing.F) {
	for _, s := range []string{
		"error-rate<=1%+baseline, cpu<=1.3x, memory<=1.3x, load<=1.5x",
		"latency-p99<=500ms, latency-p50<=1.2x, alerts", "memory<=256Mi, cpu<=500m, load<=2",
		"error-rate<=2%", "error-rate <= 1 % + baseline", "cpu<=1e308x", "latency-p999<=1s",
		"cpu<=NaNx", "memory<=-1Mi", "cpu<=Infm", ",", "alerts,alerts", "<=", "latency-<=1x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checks, err := contract.ParseChecks(s)
		if err != nil {
			if !errors.Is(err, contract.ErrInvalidCheck) {
				t.Fatalf("error %v does not wrap ErrInvalidCheck", err)
			}
			return
		}
		var rendered []string
		for _, c := range checks {
			requireFiniteBound(t, c)
			rendered = append(rendered, c.String())
		}
		again, err := contract.ParseChecks(strings.Join(rendered, ","))
		if err != nil {
			t.Fatalf("%q parsed, but its rendering %q does not: %v", s, rendered, err)
		}
		for i := range again {
			if again[i].String() != rendered[i] {
				t.Fatalf("%q renders as %q, which parses to %q", s, rendered[i], again[i].String())
			}
		}
	})
}

func requireFiniteBound(t *testing.T, c contract.Check) {
	t.Helper()
	if math.IsNaN(c.Bound) || math.IsInf(c.Bound, 0) || c.Bound < 0 {
		t.Fatalf("accepted check %s with bound %v", c.Name(), c.Bound)
	}
	if c.Mode == contract.Ratio && c.Bound == 0 {
		t.Fatalf("accepted ratio check %s with factor 0", c.Name())
	}
}

// FuzzParseCustomChecks: a ConfigMap entry with any name and YAML never panics the
// parser or the query rendering, is rejected with ErrInvalidCheck, and an accepted
// check renders a non-empty query for a real target on both sides.
func FuzzParseCustomChecks(f *testing.F) {
	f.Add("p95", "query: histogram_quantile(0.95, sum by (le) (rate(x_bucket{pod=~\"{{.Pods}}\"}[{{.Window}}])))\nmax: 1.2x\nfloor: 0.01\n")
	f.Add("errors", "query: sum(rate(errors{deployment=\"{{.Deployment}}\"}[{{.Window}}]))\nmax: 0.01+baseline\n")
	f.Add("no-alerts", "query: ALERTS{namespace=\"{{.Namespace}}\"}\nexpect: empty\n")
	f.Add("bad", "query: {{.Nope}}\nmax: 1\n")
	f.Add("loop", "query: '{{define \"a\"}}{{template \"a\"}}{{end}}{{template \"a\"}}'\nmax: 1\n")
	f.Add("Upper", "query: up\nmax: NaN\n")
	f.Add("cpu", "query: up\nmax: 1x\n")
	f.Add("x", "query: up\nmax: 1\nfloor: -1\nextra: 2\n")
	f.Fuzz(func(t *testing.T, name, doc string) {
		checks, err := ParseCustomChecks(map[string]string{name: doc})
		if err != nil {
			if !errors.Is(err, contract.ErrInvalidCheck) {
				t.Fatalf("error %v does not wrap ErrInvalidCheck", err)
			}
			return
		}
		target := Target{Namespace: "shop", Deployment: "web", Canary: "web-canary", Service: "web",
			Ingress: "web", Source: contract.SourceNginx, Window: 30 * time.Second}
		for _, c := range checks {
			if c.Mode != contract.NoneFiring {
				requireFiniteBound(t, c)
			}
			p, err := customPlan(target, c)
			if err != nil {
				t.Fatalf("accepted check %s does not render: %v", c.Name(), err)
			}
			if strings.TrimSpace(p.canary) == "" {
				t.Fatalf("accepted check %s renders an empty canary query", c.Name())
			}
		}
	})
}
