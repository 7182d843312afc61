//go:build e2e

package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given an opted-in Deployment with router gateway and the user's HTTPRoute
// attached to a sim Gateway, when a healthy version is released, then the
// canary Service joins the route's rules and its weight walks every step with
// stable and canary adding up to 100, the Gateway sends it real requests, the
// release is promoted, and the route ends exactly as the user wrote it.
func TestGatewayCanaryGoodReleaseIsPromoted(t *testing.T) {
	t.Parallel()
	env, ns, gw := gatewayScenario(t)
	a := app{name: "web", replicas: 3, rps: 200}
	written := gatewayApp(t, env, gw, ns, a)
	tl := watchRoute(t, gw, ns, a.name)

	release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)

	waitGatewayServesCanary(t, env, ns, a.name, "the Gateway sends requests to the canary")
	requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded)
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	requireRouteAsWritten(t, gw, written)
	weights, bad := tl.weights()
	assert.Empty(t, bad, "every HTTPRoute version has stable and canary adding up to 100")
	assert.Equal(t, []int{-2, 10, 20, 30, 40, 50, 100, -2}, weights, "canary weights in order (-2 = the user's rules)")
	framework.Eventually(t, time.Minute, "stable runs v2", func() (bool, error) {
		return runningImage(t, env.Kube, ns, a.name) == "example.com/web:v2", nil
	})
}

// Given the same setup, when a version with 10% errors is released, then it is
// rolled back naming error-rate (judged on the application's own metrics), and
// the HTTPRoute is left exactly as written, with no rolloutd field manager.
func TestGatewayCanaryBadReleaseIsRolledBackAndRouteRestored(t *testing.T) {
	t.Parallel()
	env, ns, gw := gatewayScenario(t)
	a := app{name: "shop", replicas: 3, rps: 200}
	written := gatewayApp(t, env, gw, ns, a)
	tl := watchRoute(t, gw, ns, a.name)

	release(t, env.Kube, ns, a.name, "example.com/shop:bad", map[string]string{"sim.rolloutd.io/error-rate": "0.1"})

	st := requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.RolledBack)
	assert.Contains(t, st.Message, "error-rate")
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	requireRouteAsWritten(t, gw, written)
	assertRolledBackFromFirstStep(t, tl, "HTTPRoute")
}
