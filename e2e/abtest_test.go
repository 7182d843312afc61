//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given a Service whose traffic carries x-canary: always on 10% of the requests
// and x-canary: never on 20%, when an abtest release matching header
// x-canary=always runs, then the canary's share of user requests is exactly the
// matching 10% at every step (weight 0), and the release is promoted.
func TestABTestHeaderNginxOnlyMatchingRequestsReachTheCanary(t *testing.T) {
	t.Parallel()
	abTestOnlyMatchingRequests(t, app{name: "ab", replicas: 3, router: "nginx", rps: 200}, headerShares)
}

func TestABTestHeaderIstioOnlyMatchingRequestsReachTheCanary(t *testing.T) {
	t.Parallel()
	abTestOnlyMatchingRequests(t, app{name: "abi", replicas: 3, router: "istio", rps: 200}, headerShares)
}

// The same with a cookie rule on Istio: canary=always among the request's cookies.
func TestABTestCookieIstioOnlyMatchingRequestsReachTheCanary(t *testing.T) {
	t.Parallel()
	abTestOnlyMatchingRequests(t, app{name: "abc", replicas: 3, router: "istio", rps: 200}, cookieShares)
}

// abRule is an A/B rule and the simulated traffic it applies to: 10% of the
// requests match, 20% carry the same header or cookie with another value.
type abRule struct {
	match, simKey, simValue string
}

var (
	headerShares = abRule{"header:x-canary=always", "sim.rolloutd.io/request-headers", "x-canary=always:0.1,x-canary=never:0.2"}
	cookieShares = abRule{"cookie:canary", "sim.rolloutd.io/request-cookies", "canary=always:0.1,canary=never:0.2"}
)

func abTestOnlyMatchingRequests(t *testing.T, a app, rule abRule) {
	env, ns := watchedScenario(t)
	a.annotations = map[string]string{
		"rolloutd.io/strategy": "abtest",
		"rolloutd.io/match":    rule.match,
		"rolloutd.io/steps":    "10,20,30",
	}
	var written *gwv1.HTTPRoute
	if a.router == "gateway" {
		written = gatewayApp(t, env, gatewayClient(t, env), ns, a)
	} else {
		a.create(t, env.Kube, ns)
	}
	annotateService(t, env, ns, a.name, rule.simKey, rule.simValue)

	release(t, env.Kube, ns, a.name, "example.com/"+a.name+":v2", nil)

	ctx := context.Background()
	key := ns + "/" + a.name + "-canary"
	var first struct {
		requests, served int64
	}
	framework.Eventually(t, rolloutTimeout, "the canary gets the matching share during the A/B steps", func() (bool, error) {
		st, _ := readStatus(t, env.Kube, ns, a.name)
		if st.Phase != contract.Progressing || st.StepStartedAt == nil {
			return false, fmt.Errorf("phase %s: %s", st.Phase, st.Message)
		}
		require.Zero(t, st.Weight, "abtest reports weight 0")
		require.Contains(t, st.Message, rule.match)
		r, err := simRoute(ctx, env, ns, a.name)
		if err != nil {
			return false, err
		}
		share := r.WorkloadShare[key]
		if math.Abs(share-0.1) > 1e-6 {
			return false, fmt.Errorf("canary share %.3f, want the matching 0.1", share)
		}
		served, _ := canaryCounts(r, ns, a.name)
		if first.requests == 0 {
			first.requests, first.served = r.Requests, served
		}
		n := r.Requests - first.requests
		if n < 1000 {
			return false, fmt.Errorf("%d requests since the split was seen, waiting for 1000", n)
		}
		got := float64(served-first.served) / float64(n)
		t.Logf("%s: the canary served %d of %d requests (%.3f), expected share %.3f", rule.match, served-first.served, n, got, share)
		require.InDelta(t, 0.1, got, 0.04, "the canary served %.3f of %d requests, want the matching 10%%", got, n)
		return true, nil
	})

	requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded)
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	if a.router == "istio" {
		requireNoIstioObjects(t, env, ns, a.name)
	}
	if written != nil {
		requireRouteAsWritten(t, gatewayClient(t, env), written)
	}
}

// Given router istio and rolloutd.io/mirror: "100", when a version answering 30% of
// requests with errors is released, then the canary gets copies of the requests
// but no user request, the mirror gate fails and it is rolled back, and the error
// rate users see (reporter="source") stays at the stable's level.
func TestIstioMirrorBadCanaryIsRolledBackWithoutUserErrors(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := app{name: "mir", replicas: 3, router: "istio", rps: 200,
		annotations: map[string]string{"rolloutd.io/mirror": "100", "rolloutd.io/interval": "10s"}}
	a.create(t, env.Kube, ns)
	start := time.Now()

	release(t, env.Kube, ns, a.name, "example.com/mir:bad", map[string]string{"sim.rolloutd.io/error-rate": "0.3"})

	ctx := context.Background()
	var mirrored int64
	framework.Eventually(t, rolloutTimeout, "rolled back with no user request on the canary", func() (bool, error) {
		st, _ := readStatus(t, env.Kube, ns, a.name)
		r, err := simRoute(ctx, env, ns, a.name)
		if err != nil {
			return false, err
		}
		served, m := canaryCounts(r, ns, a.name)
		require.Zero(t, served, "no user request reaches the canary (phase %s, weight %d)", st.Phase, st.Weight)
		require.Zero(t, st.Weight)
		mirrored = max(mirrored, m)
		return st.Phase == contract.RolledBack, fmt.Errorf("phase %s: %s", st.Phase, st.Message)
	})
	st, _ := readStatus(t, env.Kube, ns, a.name)
	assert.Contains(t, st.Message, "error-rate")
	// 200 requests/s mirrored: the continuous judge decides on its first samples.
	assert.Greater(t, mirrored, int64(200), "the canary was judged on mirrored requests")
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	requireNoIstioObjects(t, env, ns, a.name)

	window := fmt.Sprintf("%ds", int(time.Since(start).Seconds())+15)
	sel := fmt.Sprintf(`reporter="%%s",destination_service_namespace=%q`, ns)
	user := errorRate(t, env, fmt.Sprintf(sel, "source"), window)
	canary := errorRate(t, env, fmt.Sprintf(sel, "destination")+fmt.Sprintf(",destination_workload=%q", a.name+"-canary"), window)
	t.Logf("over %s: user-facing 5xx share %.4f, canary (mirrored) 5xx share %.4f", window, user, canary)
	assert.Less(t, user, 0.01, "users see the stable's error rate")
	assert.Greater(t, canary, 0.15, "the canary did answer its mirrored copies badly")
}

// errorRate is the 5xx share of istio_requests_total matching sel over window,
// once Prometheus has scraped it.
func errorRate(t *testing.T, env *framework.Env, sel, window string) float64 {
	t.Helper()
	q := fmt.Sprintf(`sum(increase(istio_requests_total{%[1]s,response_code=~"5.."}[%[2]s]) or vector(0)) / sum(increase(istio_requests_total{%[1]s}[%[2]s]))`, sel, window)
	var v float64
	framework.Eventually(t, time.Minute, "prometheus answers "+q, func() (bool, error) {
		var err error
		v, err = env.PromValue(context.Background(), q)
		return err == nil && !math.IsNaN(v), err
	})
	return v
}

func annotateService(t *testing.T, env *framework.Env, ns, name, key, value string) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{key: value}}})
	require.NoError(t, err)
	_, err = env.Kube.CoreV1().Services(ns).Patch(context.Background(), name, types.MergePatchType, b, metav1.PatchOptions{})
	require.NoError(t, err)
}
