package controller

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"github.com/rolloutd/rolloutd/strategy"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

func TestRequeueLooksAgainAtAnActiveGatewayRouteOnlyWhenRoutesAreNotWatched(t *testing.T) {
	watched, httpOnly := watchedRoutes(t, RouteKinds{HTTP: true, GRPC: true}), watchedRoutes(t, RouteKinds{HTTP: true})
	cases := []struct {
		name    string
		router  contract.Router
		kind    contract.RouteKind
		watched bool
		phase   contract.Phase
		after   time.Duration
		want    time.Duration
	}{
		{"unwatched gateway, long step", contract.RouterGateway, "", false, contract.Progressing, time.Minute, routeRecheck},
		{"unwatched gateway, nothing scheduled", contract.RouterGateway, "", false, contract.Progressing, 0, routeRecheck},
		{"unwatched gateway, sooner deadline kept", contract.RouterGateway, "", false, contract.Progressing, time.Second, time.Second},
		{"unwatched gateway, settled", contract.RouterGateway, "", false, contract.Succeeded, 0, 0},
		{"watched gateway, long step: the route's events wake it", contract.RouterGateway, contract.RouteHTTP, true, contract.Progressing, time.Minute, time.Minute},
		{"watched gateway, nothing scheduled", contract.RouterGateway, contract.RouteHTTP, true, contract.Progressing, 0, 0},
		{"watched GRPCRoute", contract.RouterGateway, contract.RouteGRPC, true, contract.Progressing, time.Minute, time.Minute},
		{"GRPCRoute where only HTTPRoutes are watched", contract.RouterGateway, contract.RouteGRPC, false, contract.Progressing, time.Minute, routeRecheck},
		{"nginx, long step", contract.RouterNginx, "", false, contract.Progressing, time.Minute, time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inf := httpOnly
			if tc.watched {
				inf = watched
			} else if tc.kind != contract.RouteGRPC {
				inf = &Informers{}
			}
			r := &rollout{c: &Controller{Options: Options{Informers: inf}}, spec: contract.Spec{Router: tc.router, RouteKind: tc.kind}}
			d := strategy.Decision{Status: contract.Status{Phase: tc.phase}, RequeueAfter: tc.after}
			assert.Equal(t, tc.want, r.requeue(d))
		})
	}
}

// watchedRoutes returns informers with synced, empty caches of the route kinds.
func watchedRoutes(t *testing.T, kinds RouteKinds) *Informers {
	t.Helper()
	inf, err := NewInformers(kubefake.NewClientset(), nil, 0)
	require.NoError(t, err)
	require.NoError(t, inf.WatchGateway(gwfake.NewSimpleClientset(), nil, 0, kinds))
	inf.Start(t.Context())
	require.True(t, inf.WaitForSync(t.Context()))
	return inf
}

func TestARouteEventEnqueuesOnlyTheDeploymentsThatNameIt(t *testing.T) {
	gwd := func(name string, ann ...string) *appsv1.Deployment {
		a := map[string]string{contract.KeyEnabled: "true"}
		for i := 0; i+1 < len(ann); i += 2 {
			a[ann[i]] = ann[i+1]
		}
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Annotations: a}}
	}
	kube := kubefake.NewClientset(
		gwd("web", contract.KeyRouter, "gateway"),                           // route "web" by default
		gwd("api", contract.KeyRouter, "gateway", contract.KeyRoute, "web"), // names route "web"
		gwd("cart", contract.KeyRouter, "gateway", contract.KeyRoute, "grpcroute/cart-route"),
		gwd("legacy", contract.KeyRouter, "nginx", contract.KeyIngress, "web"),
	)
	gw := gwfake.NewSimpleClientset()
	inf, err := NewInformers(kube, nil, 0)
	require.NoError(t, err)
	require.NoError(t, inf.WatchGateway(gw, nil, 0, RouteKinds{HTTP: true, GRPC: true}))
	var mu sync.Mutex
	got := map[string]int{}
	require.NoError(t, inf.addRouteHandler(func(key string) { mu.Lock(); got[key]++; mu.Unlock() }))
	inf.Start(t.Context())
	require.True(t, inf.WaitForSync(t.Context()))

	for _, name := range []string{"unrelated", "web", "cart-route"} {
		_, err := gw.GatewayV1().HTTPRoutes("shop").Create(context.Background(),
			&gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	for _, name := range []string{"web", "cart-route"} {
		_, err := gw.GatewayV1().GRPCRoutes("shop").Create(context.Background(),
			&gwv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	assert.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got["shop/web"] > 0 && got["shop/api"] > 0 && got["shop/cart"] > 0
	}, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"shop/api", "shop/cart", "shop/web"}, sortedKeys(got), "only the Deployments naming a route of that kind")
	assert.Equal(t, 1, got["shop/cart"], "GRPCRoute cart-route, not the HTTPRoute of that name")
	assert.Equal(t, 1, got["shop/web"], "HTTPRoute web, not the GRPCRoute of that name")
}

func TestSlimRouteKeepsOnlyItsIdentity(t *testing.T) {
	r := &gwv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", ResourceVersion: "7",
			Annotations: map[string]string{"a": "b"}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec: gwv1.HTTPRouteSpec{Rules: []gwv1.HTTPRouteRule{{}}},
	}
	out, err := slimRoute(r)
	require.NoError(t, err)
	assert.Equal(t, &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", ResourceVersion: "7"}}, out)
	again, err := slimRoute(out)
	require.NoError(t, err)
	assert.Equal(t, out, again, "idempotent")
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
