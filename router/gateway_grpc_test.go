package router

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

func grpcTarget() Target {
	t := gwTarget()
	t.RouteKind = RouteKindGRPC
	return t
}

func grpcBackend(name string, weight int32) gwv1.GRPCBackendRef {
	return gwv1.GRPCBackendRef{BackendRef: gwTestRef(name, weight)}
}

func gwTestRef(name string, weight int32) gwv1.BackendRef {
	return gwBackend(name, ptr.To(weight)).BackendRef
}

// userGRPCRoute is a GRPCRoute as the API server returns it: a method rule
// with a header filter and a header match, to the user's Service; a rule of
// another service; a catch-all rule to the user's Service.
func userGRPCRoute() *gwv1.GRPCRoute {
	exact := ptr.To(gwv1.GRPCMethodMatchExact)
	return &gwv1.GRPCRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Generation: 1, ManagedFields: []metav1.ManagedFieldsEntry{
			{Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate},
		}},
		Spec: gwv1.GRPCRouteSpec{Rules: []gwv1.GRPCRouteRule{
			{Matches: []gwv1.GRPCRouteMatch{{
				Method:  &gwv1.GRPCMethodMatch{Type: exact, Service: ptr.To("shop.Cart"), Method: ptr.To("Add")},
				Headers: []gwv1.GRPCHeaderMatch{{Type: ptr.To(gwv1.GRPCHeaderMatchExact), Name: "x-tenant", Value: "a"}},
			}},
				Filters: []gwv1.GRPCRouteFilter{{Type: gwv1.GRPCRouteFilterRequestHeaderModifier,
					RequestHeaderModifier: &gwv1.HTTPHeaderFilter{Set: []gwv1.HTTPHeader{{Name: "x-route", Value: "cart"}}}}},
				BackendRefs: []gwv1.GRPCBackendRef{grpcBackend("web", 1)}},
			{Matches: []gwv1.GRPCRouteMatch{{Method: &gwv1.GRPCMethodMatch{Type: exact, Service: ptr.To("shop.Admin")}}},
				BackendRefs: []gwv1.GRPCBackendRef{grpcBackend("admin", 1)}},
			{BackendRefs: []gwv1.GRPCBackendRef{grpcBackend("web", 1)}},
		}},
	}
}

func liveGRPCRoute(t *testing.T, c *gwfake.Clientset) *gwv1.GRPCRoute {
	t.Helper()
	return liveObject(t, c.GatewayV1().GRPCRoutes("ns").Get)
}

func grpcWeights(rule gwv1.GRPCRouteRule) map[string]int32 {
	return backendWeights(rule.BackendRefs, func(b gwv1.GRPCBackendRef) gwv1.BackendRef { return b.BackendRef })
}

func TestGRPCRulesConvertToTheHTTPFormAndBackExactly(t *testing.T) {
	rules := userGRPCRoute().Spec.Rules
	assert.Equal(t, rules, httpToGRPCRules(grpcToHTTPRules(rules)))
	assert.Nil(t, httpToGRPCRules(grpcToHTTPRules(nil)))
}

func TestGatewaySplitsAGRPCRouteAndRestoresItExactly(t *testing.T) {
	written := userGRPCRoute()
	c := gwfake.NewClientset(written.DeepCopy())
	g := Gateway{Client: c}
	for _, w := range []int{10, 50} {
		require.NoError(t, g.Apply(context.Background(), grpcTarget(), traffic.Split{CanaryWeight: w}))
		rules := liveGRPCRoute(t, c).Spec.Rules
		require.Len(t, rules, 3)
		for _, i := range []int{0, 2} {
			assert.Equal(t, map[string]int32{"web": int32(100 - w), "web-canary": int32(w)}, grpcWeights(rules[i]), "rule %d at %d", i, w)
			assert.Equal(t, written.Spec.Rules[i].Matches, rules[i].Matches, "the method and header matches are kept")
			assert.Equal(t, written.Spec.Rules[i].Filters, rules[i].Filters)
		}
		assert.Equal(t, written.Spec.Rules[1], rules[1], "a rule without the Service is kept as written")
		weight, ok, err := g.Weight(context.Background(), grpcTarget())
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, w, weight)
	}
	var kept []gwv1.GRPCRouteRule
	require.NoError(t, json.Unmarshal([]byte(liveGRPCRoute(t, c).Annotations[contract.RulesAnnotation]), &kept))
	assert.Equal(t, written.Spec.Rules, kept, "the annotation keeps the rules in the GRPCRoute's own form")

	require.NoError(t, g.Apply(context.Background(), grpcTarget(), traffic.Split{}))
	live := liveGRPCRoute(t, c)
	assert.Equal(t, written.Spec, live.Spec, "the rules exactly as written")
	assert.NotContains(t, live.Annotations, contract.RulesAnnotation)
	for _, e := range live.ManagedFields {
		assert.NotEqual(t, GatewayFieldManager, e.Manager)
	}
}

func TestGatewayABAndMirrorOnAGRPCRouteKeepItsMethodMatch(t *testing.T) {
	c := gwfake.NewClientset(userGRPCRoute())
	split := traffic.Split{MirrorPercent: 50, Match: &traffic.Match{Kind: traffic.MatchHeader, Name: "x-canary", Value: "always"}}
	require.NoError(t, Gateway{Client: c}.Apply(context.Background(), grpcTarget(), split))
	rules := liveGRPCRoute(t, c).Spec.Rules
	require.Len(t, rules, 5)
	ab := rules[0]
	assert.Equal(t, GatewayRuleMatch+"0", string(*ab.Name))
	require.Len(t, ab.Matches, 1)
	assert.Equal(t, userGRPCRoute().Spec.Rules[0].Matches[0].Method, ab.Matches[0].Method, "the copy keeps the method match")
	assert.Equal(t, []gwv1.GRPCHeaderMatch{
		{Type: ptr.To(gwv1.GRPCHeaderMatchExact), Name: "x-tenant", Value: "a"},
		{Type: ptr.To(gwv1.GRPCHeaderMatchExact), Name: "x-canary", Value: "always"},
	}, ab.Matches[0].Headers)
	assert.Equal(t, map[string]int32{"web-canary": 1}, grpcWeights(ab))
	catchAll := rules[3]
	assert.Equal(t, GatewayRuleMatch+"2", string(*catchAll.Name))
	require.Len(t, catchAll.Matches, 1)
	assert.Nil(t, catchAll.Matches[0].Method, "a copy of a rule without matches matches every method")
	mirror := rules[4].Filters
	require.Len(t, mirror, 1)
	assert.Equal(t, gwv1.GRPCRouteFilterRequestMirror, mirror[0].Type)
	assert.Equal(t, "web-canary", string(mirror[0].RequestMirror.BackendRef.Name))
	assert.Equal(t, int32(50), *mirror[0].RequestMirror.Percent)
}

func TestGatewayGRPCRouteProblemsNameTheKind(t *testing.T) {
	msg, err := Gateway{Client: gwfake.NewClientset()}.Problem(context.Background(), grpcTarget())
	require.NoError(t, err)
	assert.Equal(t, "grpcroute ns/web not found (set rolloutd.io/route to the route to split)", msg)
	r := userGRPCRoute()
	r.Status.Parents = []gwv1.RouteParentStatus{{ParentRef: gwv1.ParentReference{Name: "edge"}, Conditions: []metav1.Condition{
		{Type: "ResolvedRefs", Status: metav1.ConditionFalse, Reason: "BackendNotFound", Message: "service ns/gone not found", ObservedGeneration: 1}}}}
	msg, err = Gateway{Client: gwfake.NewClientset(r)}.Problem(context.Background(), grpcTarget())
	require.NoError(t, err)
	assert.Equal(t, "grpcroute ns/web: parent edge: ResolvedRefs=False (BackendNotFound): service ns/gone not found", msg)
}
