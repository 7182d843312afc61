package router

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/rolloutd/rolloutd/traffic"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

func newDynamic(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		VirtualServices:  "VirtualServiceList",
		DestinationRules: "DestinationRuleList",
	}, objs...)
}

// userVirtualService has a route for /admin to another Service, a route with a
// timeout and retries to the user's Service on port 8080 (subset v1), and a
// fallback route to a static site.
func userVirtualService() *unstructured.Unstructured {
	const y = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: web
  namespace: shop
spec:
  hosts: [web, shop.example]
  gateways: [mesh, public]
  http:
  - name: admin
    match:
    - uri: {prefix: /admin}
    route:
    - destination: {host: admin}
  - name: main
    match:
    - uri: {prefix: /}
      headers: {x-tenant: {exact: acme}}
    - uri: {prefix: /api}
    timeout: 3s
    retries: {attempts: 2}
    route:
    - destination: {host: web.shop.svc.cluster.local, port: {number: 8080}, subset: v1}
  - name: fallback
    route:
    - destination: {host: static}
`
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
		panic(err)
	}
	return u
}

func userDestinationRule() *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"host": "web",
		"subsets": []any{map[string]any{"name": "v1", "labels": map[string]any{"app": "web"}}}}}}
	u.SetAPIVersion("networking.istio.io/v1")
	u.SetKind("DestinationRule")
	u.SetName("web")
	u.SetNamespace("shop")
	return u
}

func getIstio(t *testing.T, c *dynamicfake.FakeDynamicClient, gvr schema.GroupVersionResource) *unstructured.Unstructured {
	t.Helper()
	u, err := c.Resource(gvr).Namespace("shop").Get(context.Background(), "web", metav1.GetOptions{})
	require.NoError(t, err)
	return u
}

// golden compares the VirtualService and DestinationRule (or their absence)
// with testdata/istio/<name>.yaml; go test -update rewrites the file.
func golden(t *testing.T, c *dynamicfake.FakeDynamicClient, name string) {
	t.Helper()
	var out []byte
	for _, gvr := range []schema.GroupVersionResource{VirtualServices, DestinationRules} {
		u, err := c.Resource(gvr).Namespace("shop").Get(context.Background(), "web", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			out = append(out, []byte("--- # no "+gvr.Resource+"\n")...)
			continue
		}
		require.NoError(t, err)
		y, err := yaml.Marshal(u.Object)
		require.NoError(t, err)
		out = append(append(out, []byte("---\n")...), y...)
	}
	path := filepath.Join("testdata", "istio", name+".yaml")
	if *updateGolden {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, out, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./router -run Istio -update to create it")
	assert.Equal(t, string(want), string(out))
}

func dynWrites(c *dynamicfake.FakeDynamicClient) []k8stesting.Action {
	var out []k8stesting.Action
	for _, a := range c.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			out = append(out, a)
		}
	}
	return out
}

func TestIstioApplyWritesTheGoldenObjects(t *testing.T) {
	header := &traffic.Match{Kind: traffic.MatchHeader, Name: "X-Canary", Value: "always"}
	cookie := &traffic.Match{Kind: traffic.MatchCookie, Name: "canary"}
	regex := &traffic.Match{Kind: traffic.MatchHeader, Name: "x-user", Value: "^(alice|bob)$", Regex: true}
	cases := []struct {
		name  string
		user  bool
		split traffic.Split
	}{
		{"created-weight-10", false, traffic.Split{CanaryWeight: 10}},
		{"created-all-stable", false, traffic.Split{}},
		{"created-match-header", false, traffic.Split{Match: header}},
		{"created-match-cookie", false, traffic.Split{Match: cookie}},
		{"created-mirror-20", false, traffic.Split{MirrorPercent: 20}},
		{"created-sticky-weight-30", false, traffic.Split{CanaryWeight: 30, Sticky: true}},
		{"user-weight-25", true, traffic.Split{CanaryWeight: 25}},
		{"user-match-regex", true, traffic.Split{Match: regex}},
		{"user-mirror-50", true, traffic.Split{MirrorPercent: 50}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			if tc.user {
				objs = append(objs, userVirtualService())
			}
			c := newDynamic(objs...)
			require.NoError(t, Istio{Client: c}.Apply(context.Background(), target, tc.split))
			golden(t, c, tc.name)
		})
	}
}

func TestIstioWeightsAlwaysAddToOneHundred(t *testing.T) {
	for _, w := range []int{0, 1, 10, 50, 99, 100} {
		c := newDynamic(userVirtualService())
		require.NoError(t, Istio{Client: c}.Apply(context.Background(), target, traffic.Split{CanaryWeight: w}))
		routes, err := httpRoutes(getIstio(t, c, VirtualServices))
		require.NoError(t, err)
		total := 0
		for _, d := range routes[1].(map[string]any)["route"].([]any) {
			n, err := weightOf(d.(map[string]any)["weight"])
			require.NoError(t, err)
			total += n
		}
		assert.Equal(t, 100, total, "weight %d", w)
		got, found, err := Istio{Client: c}.Weight(context.Background(), target)
		require.NoError(t, err)
		assert.True(t, found)
		assert.Equal(t, w, got)
	}
}

func TestIstioApplyIsIdempotent(t *testing.T) {
	for _, user := range []bool{false, true} {
		var objs []runtime.Object
		if user {
			objs = append(objs, userVirtualService())
		}
		c := newDynamic(objs...)
		ist := Istio{Client: c}
		split := traffic.Split{CanaryWeight: 20, MirrorPercent: 5, Match: &traffic.Match{Kind: traffic.MatchCookie, Name: "c"}}
		require.NoError(t, ist.Apply(context.Background(), target, split))
		c.ClearActions()
		require.NoError(t, ist.Apply(context.Background(), target, split))
		assert.Empty(t, dynWrites(c), "user VirtualService %v: second apply wrote", user)
		require.NoError(t, ist.Apply(context.Background(), target, traffic.Split{CanaryWeight: 30}))
		require.Len(t, dynWrites(c), 1)
		assert.Equal(t, "update", dynWrites(c)[0].GetVerb())
	}
}

func TestIstioResetRemovesOnlyWhatRolloutdWrote(t *testing.T) {
	ctx := context.Background()
	t.Run("generated objects are deleted", func(t *testing.T) {
		c := newDynamic()
		ist := Istio{Client: c}
		require.NoError(t, ist.Apply(ctx, target, traffic.Split{CanaryWeight: 40}))
		require.NoError(t, ist.Reset(ctx, target))
		golden(t, c, "created-reset")
		_, found, err := ist.Weight(ctx, target)
		require.NoError(t, err)
		assert.False(t, found)
		require.NoError(t, ist.Reset(ctx, target), "a second reset finds nothing and is not an error")
	})
	t.Run("the user's VirtualService and DestinationRule are restored as written", func(t *testing.T) {
		c := newDynamic(userVirtualService(), userDestinationRule())
		ist := Istio{Client: c}
		require.NoError(t, ist.Apply(ctx, target, traffic.Split{CanaryWeight: 40, Sticky: true,
			Match: &traffic.Match{Kind: traffic.MatchHeader, Name: "x-canary", Value: "always"}}))
		routes, err := httpRoutes(getIstio(t, c, VirtualServices))
		require.NoError(t, err)
		require.Len(t, routes, 6, "three owned routes inserted")
		require.NoError(t, ist.Reset(ctx, target))
		golden(t, c, "user-reset")
		assert.Equal(t, userVirtualService().Object["spec"], getIstio(t, c, VirtualServices).Object["spec"])
		assert.Equal(t, userDestinationRule().Object["spec"], getIstio(t, c, DestinationRules).Object["spec"])
	})
}

func TestIstioApplyRejectsAVirtualServiceWithoutARouteToTheService(t *testing.T) {
	vs := userVirtualService()
	routes, _ := httpRoutes(vs)
	require.NoError(t, setHTTP(vs, []any{routes[0], routes[2]}))
	c := newDynamic(vs)
	err := Istio{Client: c}.Apply(context.Background(), target, traffic.Split{CanaryWeight: 10})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no http route to host "web"`)
}

func TestIstioResetIgnoresAnUnreadableVirtualService(t *testing.T) {
	c := newDynamic()
	c.PrependReactor("get", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "networking.istio.io", Resource: "virtualservices"}, "web", errors.New("rbac"))
	})
	assert.NoError(t, Istio{Client: c}.Reset(context.Background(), target))
	err := Istio{Client: c}.Apply(context.Background(), target, traffic.Split{CanaryWeight: 10})
	assert.True(t, apierrors.IsForbidden(errors.Unwrap(err)), "apply reports the refusal: %v", err)
}

func TestIstioHostIsAcceptsEveryFormOfTheServiceName(t *testing.T) {
	for _, h := range []string{"web", "web.shop", "web.shop.svc", "web.shop.svc.cluster.local"} {
		assert.True(t, hostIs(h, "web", "shop"), h)
	}
	for _, h := range []string{"web.other", "web-canary", "webx.shop.svc.cluster.local", "shop.example"} {
		assert.False(t, hostIs(h, "web", "shop"), h)
	}
}
