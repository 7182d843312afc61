//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// The A/B scenario of the other routers through an HTTPRoute: a rule matching
// x-canary: always placed before the user's rules takes exactly the matching 10%.
func TestABTestHeaderGatewayOnlyMatchingRequestsReachTheCanary(t *testing.T) {
	t.Parallel()
	abTestOnlyMatchingRequests(t, app{name: "abg", replicas: 3, router: "gateway", rps: 200}, headerShares)
}

// Given router gateway and rolloutd.io/mirror: "100", when a version answering
// 30% of requests with errors is released, then a RequestMirror filter copies
// the requests to the canary while no user request reaches it, the mirror gate
// fails on the application's own metrics, and the route ends as written.
func TestGatewayMirrorBadCanaryIsRolledBackWithoutUserRequests(t *testing.T) {
	t.Parallel()
	env, ns, gw := gatewayScenario(t)
	a := app{name: "mirg", replicas: 3, rps: 200, annotations: map[string]string{"rolloutd.io/mirror": "100", "rolloutd.io/interval": "10s"}}
	written := gatewayApp(t, env, gw, ns, a)

	release(t, env.Kube, ns, a.name, "example.com/mirg:bad", map[string]string{"sim.rolloutd.io/error-rate": "0.3"})

	var mirrored int64
	framework.Eventually(t, rolloutTimeout, "rolled back with no user request on the canary", func() (bool, error) {
		st, _ := readStatus(t, env.Kube, ns, a.name)
		r, err := simRoute(context.Background(), env, ns, a.name)
		if err != nil {
			return false, err
		}
		served, m := canaryCounts(r, ns, a.name)
		require.Zero(t, served, "no user request reaches the canary (phase %s, weight %d)", st.Phase, st.Weight)
		mirrored = max(mirrored, m)
		return st.Phase == contract.RolledBack, fmt.Errorf("phase %s: %s", st.Phase, st.Message)
	})
	st, _ := readStatus(t, env.Kube, ns, a.name)
	assert.Contains(t, st.Message, "error-rate")
	// Every request the canary saw was a mirrored copy (none served), so the
	// error-rate that rolled it back was measured on them. How many the test saw
	// depends on how fast the judge concluded and how often it looked.
	assert.Positive(t, mirrored, "the canary was judged on mirrored requests")
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	requireRouteAsWritten(t, gw, written)
}

// Given router gateway and strategy bluegreen, when a healthy version is
// released, then the route switches from the user's rules to stable 0 / canary
// 100 in one write and back to the user's rules after promotion: no version of
// the route ever splits traffic.
func TestGatewayBlueGreenSwitchesWithoutASplit(t *testing.T) {
	t.Parallel()
	env, ns, gw := gatewayScenario(t)
	a := app{name: "bgg", replicas: 3, rps: 200, annotations: map[string]string{"rolloutd.io/strategy": "bluegreen", "rolloutd.io/confirm": "auto"}}
	written := gatewayApp(t, env, gw, ns, a)
	tl := watchRoute(t, gw, ns, a.name)

	release(t, env.Kube, ns, a.name, "example.com/bgg:v2", nil)

	requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded)
	weights, bad := tl.weights()
	assert.Empty(t, bad)
	assert.Equal(t, []int{-2, 100, -2}, weights, "the user's rules, all to the canary in one write, the user's rules")
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	requireRouteAsWritten(t, gw, written)
}

// Given router gateway with rolloutd.io/sticky: "true" and 30% of the requests
// carrying the cookie rolloutd-<name>=canary, when a healthy version is at its
// 20% step, then the canary's backendRefs set that cookie on their responses and
// a rule sends every request carrying it to the canary: it serves 30% + 70% x 20%.
func TestGatewayStickyCookieKeepsClientsOnTheCanary(t *testing.T) {
	t.Parallel()
	env, ns, gw := gatewayScenario(t)
	a := app{name: "stk", replicas: 3, rps: 200, annotations: map[string]string{
		"rolloutd.io/sticky": "true", "rolloutd.io/steps": "20,40", "rolloutd.io/interval": "15s"}}
	written := gatewayApp(t, env, gw, ns, a)
	annotateService(t, env, ns, a.name, "sim.rolloutd.io/request-cookies", router.StickyCookie(a.name)+"=canary:0.3")

	release(t, env.Kube, ns, a.name, "example.com/stk:v2", nil)

	framework.Eventually(t, rolloutTimeout, "sticky clients on the canary at step 20", func() (bool, error) {
		st, _ := readStatus(t, env.Kube, ns, a.name)
		if st.Phase != contract.Progressing || st.Weight != 20 {
			return false, fmt.Errorf("phase %s weight %d", st.Phase, st.Weight)
		}
		r, err := simRoute(context.Background(), env, ns, a.name)
		if err != nil {
			return false, err
		}
		share := r.WorkloadShare[ns+"/"+a.name+"-canary"]
		if math.Abs(share-0.44) > 1e-6 {
			return false, fmt.Errorf("canary share %.3f, want 0.3 + 0.7 x 0.2", share)
		}
		cookie := strings.Join(r.ResponseHeaders[a.name+"-canary"], ",")
		require.Contains(t, cookie, "Set-Cookie: "+router.StickyCookie(a.name)+"=canary", "the canary's responses set the cookie")
		require.Empty(t, r.ResponseHeaders[a.name], "the stable's responses do not")
		return true, nil
	})
	route, err := gw.GatewayV1().HTTPRoutes(ns).Get(context.Background(), a.name, metav1.GetOptions{})
	require.NoError(t, err)
	names := []string{}
	for _, r := range route.Spec.Rules {
		if r.Name != nil {
			names = append(names, string(*r.Name))
		}
	}
	assert.Equal(t, []string{router.GatewayRuleSticky + "0", router.GatewayRuleSticky + "1"}, names, "a sticky copy before each user rule")

	requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded)
	requireRouteAsWritten(t, gw, written)
}
