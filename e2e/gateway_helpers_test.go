//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	"sigs.k8s.io/yaml"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/e2e/sim"
	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// gatewayScenario is the start of the Gateway API scenarios: the sandbox, a
// fresh namespace watched by a daemon of the default settings, and a Gateway
// API client.
func gatewayScenario(t *testing.T) (*framework.Env, string, gwclient.Interface) {
	t.Helper()
	env, ns := namespaceScenario(t)
	gw := gatewayClient(t, env)
	env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns}})
	return env, ns, gw
}

func gatewayClient(t *testing.T, env *framework.Env) gwclient.Interface {
	t.Helper()
	c, err := gwclient.NewForConfig(rest.CopyConfig(env.RESTConfig))
	require.NoError(t, err)
	return c
}

// createGateway makes Gateway "edge" of class sim in ns with one HTTP listener.
func createGateway(t *testing.T, gw gwclient.Interface, ns string) {
	t.Helper()
	g := &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "edge", Namespace: ns},
		Spec: gwv1.GatewaySpec{GatewayClassName: sim.GatewayClassName,
			Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}}},
	}
	_, err := gw.GatewayV1().Gateways(ns).Create(context.Background(), g, metav1.CreateOptions{})
	require.NoError(t, err)
}

// createUserRoute makes the user's HTTPRoute name attached to Gateway edge: an
// /api rule with a request header filter and a catch-all rule, both to the
// Service name, as a user writes them (no weights). It waits until the
// simulator accepted it and returns it as stored.
func createUserRoute(t *testing.T, gw gwclient.Interface, ns, name string) *gwv1.HTTPRoute {
	t.Helper()
	y := fmt.Sprintf(`
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  parentRefs: [{name: edge}]
  hostnames: [%[1]s.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: X-Route, value: api}]}
    backendRefs: [{name: %[1]s, port: 80}]
    timeouts: {request: 5s}
  - backendRefs: [{name: %[1]s, port: 80}]
`, name, ns)
	return createAcceptedRoute(t, "HTTPRoute", name, y, gw.GatewayV1().HTTPRoutes(ns),
		func(r *gwv1.HTTPRoute) *gwv1.HTTPRoute { return r })
}

// routeClient is the typed client of one kind of route in one namespace.
type routeClient[R any] interface {
	Create(context.Context, *R, metav1.CreateOptions) (*R, error)
	Get(context.Context, string, metav1.GetOptions) (*R, error)
}

// createAcceptedRoute creates the route of kind written as YAML in y with c,
// waits until the simulator accepted it (view shows its metadata and status
// as an HTTPRoute's) and returns it as stored.
func createAcceptedRoute[R any](t *testing.T, kind, name, y string, c routeClient[R], view func(*R) *gwv1.HTTPRoute) *R {
	t.Helper()
	r := new(R)
	require.NoError(t, yaml.Unmarshal([]byte(y), r))
	_, err := c.Create(context.Background(), r, metav1.CreateOptions{})
	require.NoError(t, err)
	var out *R
	framework.Eventually(t, 30*time.Second, "the simulator accepts "+kind+" "+name, func() (bool, error) {
		got, err := c.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		out = got
		v := view(got)
		return routeCondition(v, "Accepted") == metav1.ConditionTrue && routeCondition(v, "ResolvedRefs") == metav1.ConditionTrue, nil
	})
	return out
}

// routeCondition returns the status of the sim parent's condition typ for the
// route's current generation ("" when not reported yet).
func routeCondition(r *gwv1.HTTPRoute, typ string) metav1.ConditionStatus {
	for _, p := range r.Status.Parents {
		for _, c := range p.Conditions {
			if p.ControllerName == sim.GatewayController && c.Type == typ && c.ObservedGeneration == r.Generation {
				return c.Status
			}
		}
	}
	return ""
}

// requireRouteAsWritten waits until the route's spec is the one written and no
// trace of rolloutd is left on it: no annotation, no field manager.
func requireRouteAsWritten(t *testing.T, gw gwclient.Interface, written *gwv1.HTTPRoute) {
	t.Helper()
	requireNoTraceOnRoute(t, "HTTPRoute", written.Spec, func() (any, metav1.ObjectMeta, error) {
		got, err := gw.GatewayV1().HTTPRoutes(written.Namespace).Get(context.Background(), written.Name, metav1.GetOptions{})
		if err != nil {
			return nil, metav1.ObjectMeta{}, err
		}
		return got.Spec, got.ObjectMeta, nil
	})
}

// requireNoTraceOnRoute waits until get returns the spec written, without
// rolloutd's annotation or field manager on the route.
func requireNoTraceOnRoute(t *testing.T, kind string, written any, get func() (any, metav1.ObjectMeta, error)) {
	t.Helper()
	framework.Eventually(t, 30*time.Second, "the user's "+kind+" as written", func() (bool, error) {
		spec, meta, err := get()
		if err != nil {
			return false, err
		}
		if !assert.ObjectsAreEqual(written, spec) {
			return false, fmt.Errorf("spec differs: %+v", spec)
		}
		if _, ok := meta.Annotations[contract.RulesAnnotation]; ok {
			return false, fmt.Errorf("annotation %s left", contract.RulesAnnotation)
		}
		for _, e := range meta.ManagedFields {
			if e.Manager == router.GatewayFieldManager {
				return false, fmt.Errorf("field manager %s left", e.Manager)
			}
		}
		return true, nil
	})
}

// routeTimeline keeps the canary weight of every version of an HTTPRoute (-2:
// no canary backendRef, the user's form) and the versions whose stable and
// canary weights do not add up to 100.
type routeTimeline struct {
	mu    sync.Mutex
	ws    []int
	bad   []string
	rules [][]gwv1.HTTPRouteRule
}

func watchRoute(t *testing.T, gw gwclient.Interface, ns, name string) *routeTimeline {
	t.Helper()
	return recordRoutes(t, name, func(ctx context.Context) (watch.Interface, error) {
		return gw.GatewayV1().HTTPRoutes(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	}, func(o runtime.Object) *gwv1.HTTPRoute {
		r, _ := o.(*gwv1.HTTPRoute)
		return r
	})
}

// recordRoutes records every version of a route that start's watch reports on a
// new routeTimeline until the test ends; view turns a version into the
// HTTPRoute the timeline reads (nil for an object that is not one).
func recordRoutes(t *testing.T, svc string, start func(context.Context) (watch.Interface, error),
	view func(runtime.Object) *gwv1.HTTPRoute) *routeTimeline {
	t.Helper()
	tl := &routeTimeline{}
	onEvents(t, start, func(typ watch.EventType, o runtime.Object) {
		if typ == watch.Deleted {
			return
		}
		if r := view(o); r != nil {
			tl.record(r, svc, svc+"-canary")
		}
	})
	return tl
}

func (tl *routeTimeline) record(r *gwv1.HTTPRoute, svc, canary string) {
	weight, ok := router.GatewayCanaryWeight(r.Spec.Rules, svc, canary)
	if !ok {
		weight = -2
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, rule := range r.Spec.Rules {
		var sum int32
		split := false
		for _, b := range rule.BackendRefs {
			if b.Weight != nil && (string(b.Name) == svc || string(b.Name) == canary) {
				sum += *b.Weight
				split = split || string(b.Name) == canary
			}
		}
		if split && len(rule.BackendRefs) == 2 && sum != 100 {
			tl.bad = append(tl.bad, fmt.Sprintf("rv %s: weights add to %d", r.ResourceVersion, sum))
		}
	}
	if n := len(tl.ws); n == 0 || tl.ws[n-1] != weight {
		tl.ws = append(tl.ws, weight)
		tl.rules = append(tl.rules, r.Spec.Rules)
	}
}

func (tl *routeTimeline) weights() ([]int, []string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]int(nil), tl.ws...), append([]string(nil), tl.bad...)
}

// waitGatewayServesCanary waits until the simulator's Gateway has sent the
// canary of name some of its requests.
func waitGatewayServesCanary(t *testing.T, env *framework.Env, ns, name, what string) {
	t.Helper()
	framework.Eventually(t, rolloutTimeout, what, func() (bool, error) {
		st, err := simRoute(context.Background(), env, ns, name)
		if err != nil {
			return false, err
		}
		served, _ := canaryCounts(st, ns, name)
		return st.Router == sim.RouterGateway && served > 0, nil
	})
}

// assertRolledBackFromFirstStep asserts what the timeline of a route of kind
// shows of a release rolled back after its first step: stable and canary
// always adding up to 100, the first step reached, the user's rules last.
func assertRolledBackFromFirstStep(t *testing.T, tl *routeTimeline, kind string) {
	t.Helper()
	weights, bad := tl.weights()
	assert.Empty(t, bad, "every "+kind+" version has stable and canary adding up to 100")
	assert.Contains(t, weights, 10, "the canary got its first step")
	assert.Equal(t, -2, weights[len(weights)-1], "the user's rules came back last")
}

// gatewayApp creates the Gateway, the user's HTTPRoute and the app (router
// gateway), and returns the route as written.
func gatewayApp(t *testing.T, env *framework.Env, gw gwclient.Interface, ns string, a app) *gwv1.HTTPRoute {
	t.Helper()
	a.router = "gateway"
	createGateway(t, gw, ns)
	a.create(t, env.Kube, ns)
	return createUserRoute(t, gw, ns, a.name)
}
