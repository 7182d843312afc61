package contract

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/traffic"
)

func enabledWith(kv ...string) map[string]string {
	ann := map[string]string{KeyEnabled: "true"}
	for i := 0; i+1 < len(kv); i += 2 {
		ann[kv[i]] = kv[i+1]
	}
	return ann
}

// invalidErrors returns every *InvalidError joined in err.
func invalidErrors(t *testing.T, err error) []*InvalidError {
	t.Helper()
	require.Error(t, err)
	var out []*InvalidError
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var inv *InvalidError
		require.True(t, errors.As(e, &inv), "not an *InvalidError: %v", e)
		out = append(out, inv)
	}
	return out
}

func TestParseAppliesTheContractDefaultForEveryKey(t *testing.T) {
	s, err := Parse("web", enabledWith())
	require.NoError(t, err)

	assert.True(t, s.Enabled)
	assert.Equal(t, Canary, s.Strategy)
	assert.Equal(t, RouterService, s.Router)
	assert.Equal(t, "web", s.Ingress, "ingress defaults to the Deployment's name")
	assert.Equal(t, "web", s.Route, "route defaults to the Deployment's name")
	assert.Equal(t, "web", s.Service, "service defaults to the Deployment's name")
	assert.Equal(t, []int{10, 20, 30, 40, 50}, s.Steps)
	assert.Equal(t, time.Minute, s.Interval)
	assert.Equal(t, 2, s.Threshold)
	var checks []string
	for _, c := range s.Checks {
		checks = append(checks, c.Name())
	}
	assert.Equal(t, []string{"error-rate", "cpu", "memory", "load", "memory-growth"}, checks, "the contract's default checks")
	assert.Empty(t, s.Analysis)
	assert.False(t, s.PauseAt.All)
	assert.False(t, s.PauseAt.Has(10))
	assert.Nil(t, s.Match)
	assert.Zero(t, s.MirrorPercent)
	assert.False(t, s.Sticky)
	assert.Equal(t, []Quantity{{25, true}, {50, true}, {100, true}}, s.Batches)
	assert.Equal(t, Quantity{Value: 25, Percent: true}, s.MaxSurge)
	assert.Equal(t, Quantity{}, s.MaxUnavailable)
	assert.Equal(t, CreateFirst, s.RollingOrder)
	assert.True(t, s.ConfirmManual, "confirm defaults to manual")
	assert.True(t, s.AlertRollback)
	assert.Nil(t, s.AlertSelector)
	assert.Equal(t, 30*time.Minute, s.RollbackWindow)
	assert.Equal(t, 10, s.RevisionHistory)
}

// The strategies judged at their gates only keep the contract's four default
// checks: memory-growth is in the default of canary rollouts alone, where the
// continuous judge fits the slope with a noise margin.
func TestParseDefaultChecksDependOnTheStrategy(t *testing.T) {
	for _, st := range []Strategy{Canary, BlueGreen, ABTest, Batch} {
		t.Run(string(st), func(t *testing.T) {
			ann := enabledWith(KeyStrategy, string(st))
			if st == ABTest || st == BlueGreen {
				ann[KeyMatch], ann[KeyRouter] = "header:x-canary=always", "nginx"
			}
			s, err := Parse("web", ann)
			require.NoError(t, err)
			var names []string
			for _, c := range s.Checks {
				names = append(names, c.Name())
			}
			want := []string{"error-rate", "cpu", "memory", "load"}
			if st == Canary {
				want = append(want, "memory-growth")
			}
			assert.Equal(t, want, names)
		})
	}
}

func TestParseEmptyValuesTakeTheDefault(t *testing.T) {
	s, err := Parse("web", enabledWith(KeySteps, " ", KeyInterval, "", KeyRouter, ""))
	require.NoError(t, err)
	assert.Equal(t, []int{10, 20, 30, 40, 50}, s.Steps)
	assert.Equal(t, time.Minute, s.Interval)
	assert.Equal(t, RouterService, s.Router)
}

func TestParseAcceptsGoodValues(t *testing.T) {
	s, err := Parse("web", enabledWith(
		KeyStrategy, "bluegreen",
		KeyRouter, "istio",
		KeyIngress, "web-public",
		KeyRoute, "web-route",
		KeyService, "web-svc",
		KeySteps, "5, 10,25%,50",
		KeyInterval, "90s",
		KeyThreshold, "0",
		KeyChecks, "error-rate<=2%, latency-p99<=500ms",
		KeyAnalysis, "web-checks",
		KeyPauseAt, "25,50",
		KeyMirror, "10%",
		KeySticky, "true",
		KeyBatches, "1,25%,100%",
		KeyMaxSurge, "2",
		KeyMaxUnavailable, "10%",
		KeyRollingOrder, "delete-first",
		KeyConfirm, "auto",
		KeyAlertRollback, "false",
		KeyAlertSelector, `severity=critical, team="web"`,
		KeyRollbackWindow, "1h",
		KeyRevisionHistory, "3",
	))
	require.NoError(t, err)
	assert.Equal(t, BlueGreen, s.Strategy)
	assert.Equal(t, RouterIstio, s.Router)
	assert.Equal(t, "web-public", s.Ingress)
	assert.Equal(t, "web-route", s.Route)
	assert.Equal(t, "web-svc", s.Service)
	assert.Equal(t, []int{5, 10, 25, 50}, s.Steps)
	assert.Equal(t, 90*time.Second, s.Interval)
	assert.Equal(t, 0, s.Threshold)
	assert.Len(t, s.Checks, 2)
	assert.Equal(t, "web-checks", s.Analysis)
	assert.True(t, s.PauseAt.Has(25))
	assert.True(t, s.PauseAt.Has(50))
	assert.False(t, s.PauseAt.Has(10))
	assert.Equal(t, 10, s.MirrorPercent)
	assert.True(t, s.Sticky)
	assert.Equal(t, []Quantity{{1, false}, {25, true}, {100, true}}, s.Batches)
	assert.Equal(t, Quantity{Value: 2}, s.MaxSurge)
	assert.Equal(t, Quantity{Value: 10, Percent: true}, s.MaxUnavailable)
	assert.Equal(t, DeleteFirst, s.RollingOrder)
	assert.False(t, s.ConfirmManual)
	assert.False(t, s.AlertRollback)
	assert.Equal(t, map[string]string{"severity": "critical", "team": "web"}, s.AlertSelector)
	assert.Equal(t, time.Hour, s.RollbackWindow)
	assert.Equal(t, 3, s.RevisionHistory)
}

func TestParsePauseAtStarPausesAtEveryStep(t *testing.T) {
	s, err := Parse("web", enabledWith(KeyPauseAt, "*"))
	require.NoError(t, err)
	for _, w := range []int{1, 10, 50, 100} {
		assert.True(t, s.PauseAt.Has(w), "weight %d", w)
	}
}

func TestParseRejectsBadValueNamingKeyAndAcceptedForm(t *testing.T) {
	cases := []struct {
		name     string
		key      string
		value    string
		accepted string // a fragment of the accepted form
	}{
		{"enabled not a boolean", KeyEnabled, "yes", `"true" or "false"`},
		{"unknown strategy", KeyStrategy, "linear", "canary, bluegreen, abtest, batch"},
		{"unknown router", KeyRouter, "traefik", "nginx, istio, gateway, service"},
		{"ingress not an object name", KeyIngress, "Web_Ingress", "Kubernetes object name"},
		{"service name too long", KeyService, longName(64), "Kubernetes object name"},
		{"steps not numbers", KeySteps, "10,twenty", "increasing weights"},
		{"steps decreasing", KeySteps, "50,10", "increasing weights"},
		{"steps repeated", KeySteps, "10,10", "increasing weights"},
		{"steps over 100", KeySteps, "50,150", "from 1 to 100"},
		{"steps zero", KeySteps, "0,10", "from 1 to 100"},
		{"interval not a duration", KeyInterval, "5", "Go duration"},
		{"interval negative", KeyInterval, "-1m", "positive Go duration"},
		{"interval zero", KeyInterval, "0s", "positive Go duration"},
		{"threshold negative", KeyThreshold, "-1", "whole number from 0 to 100"},
		{"threshold not a number", KeyThreshold, "two", "whole number from 0 to 100"},
		{"checks unknown", KeyChecks, "happiness>=1", "comma-separated checks"},
		{"analysis not an object name", KeyAnalysis, "My Checks", "Kubernetes object name"},
		{"pause-at not a weight", KeyPauseAt, "half", `"*" or comma-separated steps`},
		{"pause-at over 100", KeyPauseAt, "101", `"*" or comma-separated steps`},
		{"match unknown form", KeyMatch, "query:canary=1", "header:NAME=VALUE, header:NAME~REGEX or cookie:NAME"},
		{"match header without value", KeyMatch, "header:x-canary", "header:NAME=VALUE"},
		{"match bad regex", KeyMatch, "header:x-canary~(", "valid regular expression"},
		{"mirror over 100", KeyMirror, "150", "percentage from 0 to 100"},
		{"sticky not a boolean", KeySticky, "sometimes", `"true" or "false"`},
		{"batches zero", KeyBatches, "0,100%", "replica counts or percentages"},
		{"batches over 100%", KeyBatches, "50%,150%", "replica counts or percentages"},
		{"max-surge not a quantity", KeyMaxSurge, "lots", "pod count"},
		{"max-unavailable negative", KeyMaxUnavailable, "-1", "pod count"},
		{"rolling-order unknown", KeyRollingOrder, "random", "create-first, delete-first"},
		{"confirm unknown", KeyConfirm, "later", "manual, auto"},
		{"alert-rollback not a boolean", KeyAlertRollback, "nope", `"true" or "false"`},
		{"alert-selector not matchers", KeyAlertSelector, "severity", "label matchers"},
		{"rollback-window not a duration", KeyRollbackWindow, "half an hour", "Go duration"},
		{"revision-history zero", KeyRevisionHistory, "0", "whole number from 1 to 1000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ann := enabledWith(tc.key, tc.value)
			if tc.key == KeyEnabled {
				ann[KeyEnabled] = tc.value
			}
			_, err := Parse("web", ann)
			errs := invalidErrors(t, err)
			require.Len(t, errs, 1, "%v", err)
			assert.Equal(t, tc.key, errs[0].Key)
			assert.Equal(t, tc.value, errs[0].Value)
			assert.Contains(t, errs[0].Accepted, tc.accepted)
			assert.Contains(t, errs[0].Error(), tc.key, "the message names the annotation")
			assert.Contains(t, errs[0].Error(), tc.accepted, "the message names the accepted form")
		})
	}
}

func longName(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

func TestParseBadValueFallsBackToTheDefault(t *testing.T) {
	s, err := Parse("web", enabledWith(KeySteps, "50,10", KeyInterval, "soon", KeyThreshold, "-3"))
	require.Error(t, err)
	assert.Equal(t, []int{10, 20, 30, 40, 50}, s.Steps)
	assert.Equal(t, time.Minute, s.Interval)
	assert.Equal(t, 2, s.Threshold)
}

func TestParseReportsEveryBadValueTogether(t *testing.T) {
	_, err := Parse("web", enabledWith(
		KeyStrategy, "linear",
		KeyInterval, "soon",
		KeySteps, "30,20",
		KeyMatch, "header:x~[",
	))
	errs := invalidErrors(t, err)
	var keys []string
	for _, e := range errs {
		keys = append(keys, e.Key)
	}
	assert.ElementsMatch(t, []string{KeyStrategy, KeyInterval, KeySteps, KeyMatch}, keys)
	for _, k := range keys {
		assert.Contains(t, err.Error(), k)
	}
}

func TestParseCheckErrorKeepsTheGrammarCause(t *testing.T) {
	_, err := Parse("web", enabledWith(KeyChecks, "cpu<=banana"))
	errs := invalidErrors(t, err)
	require.Len(t, errs, 1)
	assert.NotNil(t, errs[0].Cause, "the grammar's own reason is kept for the user")
	assert.ErrorIs(t, err, errs[0].Cause)
}

func TestParseABTestRequiresAMatch(t *testing.T) {
	_, err := Parse("web", enabledWith(KeyStrategy, "abtest"))
	errs := invalidErrors(t, err)
	require.Len(t, errs, 1)
	assert.Equal(t, KeyMatch, errs[0].Key)
	assert.Contains(t, errs[0].Accepted, "required by strategy abtest")

	s, err := Parse("web", enabledWith(KeyStrategy, "abtest", KeyMatch, "cookie:canary"))
	require.NoError(t, err)
	assert.Equal(t, ABTest, s.Strategy)
	require.NotNil(t, s.Match)
}

func TestParseABTestWithInvalidMatchIsReportedOnce(t *testing.T) {
	_, err := Parse("web", enabledWith(KeyStrategy, "abtest", KeyMatch, "header:x~("))
	errs := invalidErrors(t, err)
	require.Len(t, errs, 1, "%v", err)
	assert.Equal(t, KeyMatch, errs[0].Key)
	assert.Contains(t, errs[0].Accepted, "valid regular expression")
}

func TestParseMatchForms(t *testing.T) {
	cases := []struct {
		value string
		want  traffic.Match
	}{
		{"header:x-canary=always", traffic.Match{Kind: traffic.MatchHeader, Name: "x-canary", Value: "always"}},
		{"header:X-User=a=b", traffic.Match{Kind: traffic.MatchHeader, Name: "X-User", Value: "a=b"}},
		{"header:x-user~^(alice|bob)$", traffic.Match{Kind: traffic.MatchHeader, Name: "x-user", Value: "^(alice|bob)$", Regex: true}},
		{"cookie:canary", traffic.Match{Kind: traffic.MatchCookie, Name: "canary"}},
		{" cookie:my_canary.v2 ", traffic.Match{Kind: traffic.MatchCookie, Name: "my_canary.v2"}},
	}
	for _, tc := range cases {
		t.Run(tc.value, func(t *testing.T) {
			s, err := Parse("web", enabledWith(KeyStrategy, "abtest", KeyMatch, tc.value))
			require.NoError(t, err)
			require.NotNil(t, s.Match)
			assert.Equal(t, tc.want, *s.Match)
		})
	}
}

func TestParseMatchStringRoundTrips(t *testing.T) {
	for _, v := range []string{"header:x-canary=always", "header:x-user~^a.*", "cookie:canary"} {
		s, err := Parse("web", enabledWith(KeyMatch, v))
		require.NoError(t, err)
		require.NotNil(t, s.Match)
		assert.Equal(t, v, s.Match.String())
	}
}

func TestEnabledOnlyForTrue(t *testing.T) {
	assert.True(t, Enabled(map[string]string{KeyEnabled: "true"}))
	assert.False(t, Enabled(map[string]string{KeyEnabled: "false"}))
	assert.False(t, Enabled(map[string]string{}))
	assert.False(t, Enabled(nil))
}

func TestQuantityOfResolvesCountsAndPercentages(t *testing.T) {
	cases := []struct {
		name    string
		q       Quantity
		total   int32
		roundUp bool
		want    int32
	}{
		{"count ignores total", Quantity{Value: 3}, 10, false, 3},
		{"percent rounds down", Quantity{Value: 25, Percent: true}, 10, false, 2},
		{"percent rounds up", Quantity{Value: 25, Percent: true}, 10, true, 3},
		{"exact percent", Quantity{Value: 50, Percent: true}, 10, true, 5},
		{"small share rounds up to one", Quantity{Value: 1, Percent: true}, 3, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.q.Of(tc.total, tc.roundUp))
		})
	}
}
