package analysis

import (
	"errors"
	"testing"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/strategy/contract/contracttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const checkoutQuery = `histogram_quantile(0.95, sum by (le) (rate(checkout_seconds_bucket{namespace="{{.Namespace}}",pod=~"{{.Pods}}"}[{{.Window}}])))`

func TestParseCustomChecksAcceptsEveryBound(t *testing.T) {
	data := map[string]string{
		"checkout-p95": "query: '" + checkoutQuery + "'\nmax: 1.2x\nfloor: 0.01\n",
		"queue-depth":  "query: sum(queue_depth{namespace=\"{{.Namespace}}\"})\nmax: 100\n",
		"dropped":      "query: sum(rate(dropped_total{pod=~\"{{.Pods}}\"}[{{.Window}}]))\nmax: 0.5 + baseline\n",
		"panics":       "query: 'panics_total{deployment=\"{{.Workload}}\"} > 0'\nexpect: empty\n",
	}
	checks, err := ParseCustomChecks(data)
	require.NoError(t, err)
	require.Len(t, checks, 4)
	got := map[string]contract.Check{}
	for _, c := range checks {
		got[c.Name()] = c
	}
	assert.Equal(t, []string{"checkout-p95", "dropped", "panics", "queue-depth"},
		[]string{checks[0].Name(), checks[1].Name(), checks[2].Name(), checks[3].Name()})
	assert.Equal(t, contract.Ratio, got["checkout-p95"].Mode)
	assert.InDelta(t, 1.2, got["checkout-p95"].Bound, 1e-12)
	assert.InDelta(t, 0.01, got["checkout-p95"].Custom.Floor, 1e-12)
	assert.Equal(t, contract.Absolute, got["queue-depth"].Mode)
	assert.InDelta(t, 100, got["queue-depth"].Bound, 1e-12)
	assert.Equal(t, contract.BaselinePlus, got["dropped"].Mode)
	assert.InDelta(t, 0.5, got["dropped"].Bound, 1e-12)
	assert.Equal(t, contract.NoneFiring, got["panics"].Mode)
}

func TestParseCustomChecksReportsEveryBadEntry(t *testing.T) {
	for _, tc := range []struct {
		name, key, doc, want string
	}{
		{"bad name", "Checkout_P95", "query: up\nmax: 1", `invalid check: custom check "Checkout_P95": name must be lower-case letters, digits and '-', at most 63 characters`},
		{"built-in name", "cpu", "query: up\nmax: 1", `invalid check: custom check "cpu": name is taken by a built-in check`},
		{"built-in memory-growth", "memory-growth", "query: up\nmax: 1", `invalid check: custom check "memory-growth": name is taken by a built-in check`},
		{"unknown field", "x", "query: up\nmaximum: 1", `invalid check: custom check "x": want YAML with query and max (or expect: empty): ...`},
		{"empty query", "x", "max: 1", `invalid check: custom check "x": query is empty`},
		{"bad bound", "x", "query: up\nmax: lots", `invalid check: custom check "x": max "lots" must be a factor like 1.2x, a number like 0.5, or a number plus baseline like 0.01+baseline`},
		{"missing bound", "x", "query: up", `invalid check: custom check "x": max "" must be ...`},
		{"both bounds", "x", "query: up\nmax: 1\nexpect: empty", `invalid check: custom check "x": give either max or expect: empty, not both`},
		{"bad expect", "x", "query: up\nexpect: none", `invalid check: custom check "x": expect "none": the only accepted value is "empty"`},
		{"floor without ratio", "x", "query: up\nmax: 1\nfloor: 1", `invalid check: custom check "x": floor applies to ratio bounds (max: 1.2x) and must be >= 0`},
		{"unknown variable", "x", "query: 'up{pod=\"{{.PodName}}\"}'\nmax: 1", `invalid check: custom check "x": query template: ...`},
		{"broken template", "x", "query: 'up{pod=\"{{.Pods}\"}'\nmax: 1", `invalid check: custom check "x": query template: ...`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCustomChecks(map[string]string{tc.key: tc.doc, "good": "query: up\nmax: 1"})
			require.Error(t, err)
			assert.True(t, errors.Is(err, contract.ErrInvalidCheck))
			contracttest.AssertMessage(t, tc.want, err.Error())
		})
	}
}

func TestParseCustomChecksRejectsAnEmptyConfigMap(t *testing.T) {
	_, err := ParseCustomChecks(nil)
	assert.ErrorIs(t, err, contract.ErrInvalidCheck)
}

func TestCustomChecksAreEvaluatedPerSide(t *testing.T) {
	checks, err := ParseCustomChecks(map[string]string{
		"checkout-p95": "query: '" + checkoutQuery + "'\nmax: 1.2x\n",
		"panics":       "query: 'panics_total{namespace=\"{{.Namespace}}\",deployment=\"{{.Workload}}\"} > 0'\nexpect: empty\n",
	})
	require.NoError(t, err)
	canaryQ := `histogram_quantile(0.95, sum by (le) (rate(checkout_seconds_bucket{namespace="shop",` + canaryPods + `}[300s])))`
	stableQ := `histogram_quantile(0.95, sum by (le) (rate(checkout_seconds_bucket{namespace="shop",` + stablePods + `}[300s])))`
	panicsQ := `panics_total{namespace="shop",deployment="web-canary"} > 0`
	f := newFakeProm(t, map[string][]answer{canaryQ: one(val(0.5)), stableQ: one(val(0.2)), panicsQ: one(noData)})
	r := NewAnalyzer(f.api(), testOptions()).Evaluate(t.Context(), testTarget(), checks)
	require.Len(t, r.Checks, 2)
	assert.Equal(t, contract.CheckResult{Name: "checkout-p95", Value: fp(0.5), Baseline: fp(0.2), Verdict: contract.Fail,
		Reason: "checkout-p95 0.5 > 1.2x stable 0.2 (limit 0.24)"}, r.Checks[0])
	assert.Equal(t, contract.Pass, r.Checks[1].Verdict)
}
