package contract

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// FuzzParse feeds hostile values to the annotations users write most. Parse must
// never panic, must report every problem as an *InvalidError naming a rolloutd.io
// key, and whatever it accepts must be a spec the strategy can run.
func FuzzParse(f *testing.F) {
	f.Add("web", "canary", "nginx", "5,10,25,50", "1m", "error-rate<=1%+baseline, cpu<=1.3x", "50", "header:x-canary=always", "25%,50%,100%", "severity=critical")
	f.Add("web", "abtest", "istio", "10", "30s", "alerts", "*", "cookie:canary", "1,25%", "")
	f.Add("", "batch", "service", "100,50", "-1s", ",,", "101", "header:x~(", "0%", "=")
	f.Add("a", "bluegreen", "x", "9223372036854775808", "1e9h", "latency-p99<=NaNms", "  ", "header:=", "200%", "a=b,c")
	f.Fuzz(func(t *testing.T, name, strategy, router, steps, interval, checks, pauseAt, match, batches, selector string) {
		ann := map[string]string{
			KeyEnabled: "true", KeyStrategy: strategy, KeyRouter: router, KeySteps: steps, KeyInterval: interval,
			KeyChecks: checks, KeyPauseAt: pauseAt, KeyMatch: match, KeyBatches: batches, KeyAlertSelector: selector,
		}
		s, err := Parse(name, ann)
		if err != nil {
			requireInvalidErrors(t, err)
			return
		}
		requireRunnable(t, s)
	})
}

func requireInvalidErrors(t *testing.T, err error) {
	t.Helper()
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var inv *InvalidError
		if !errors.As(e, &inv) || !strings.HasPrefix(inv.Key, Prefix) || inv.Accepted == "" {
			t.Fatalf("error %q does not name an annotation and its accepted form", e)
		}
	}
}

func requireRunnable(t *testing.T, s Spec) {
	t.Helper()
	if len(s.Steps) == 0 {
		t.Fatal("accepted a spec without steps")
	}
	for i, w := range s.Steps {
		if w < 1 || w > 100 || (i > 0 && w <= s.Steps[i-1]) {
			t.Fatalf("accepted steps %v", s.Steps)
		}
	}
	if s.Interval <= 0 {
		t.Fatalf("accepted interval %v", s.Interval)
	}
	if len(s.Checks) == 0 {
		t.Fatal("accepted a spec without checks")
	}
	for _, c := range s.Checks {
		if math.IsNaN(c.Bound) || math.IsInf(c.Bound, 0) || c.Bound < 0 {
			t.Fatalf("accepted check %s with bound %v", c, c.Bound)
		}
	}
	for _, b := range s.Batches {
		if b.Value < 0 || (b.Percent && b.Value > 100) {
			t.Fatalf("accepted batch %+v", b)
		}
	}
}
