package router

import (
	"context"
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

func gwTarget() Target {
	return Target{Namespace: "ns", Deployment: "web", Service: "web", CanaryService: "web-canary", Route: "web"}
}

func gwBackend(name string, weight *int32) gwv1.HTTPBackendRef {
	return gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{
		BackendObjectReference: gwv1.BackendObjectReference{
			Group: ptr.To(gwv1.Group("")), Kind: ptr.To(gwv1.Kind("Service")),
			Name: gwv1.ObjectName(name), Port: ptr.To(gwv1.PortNumber(80)),
		},
		Weight: weight,
	}}
}

func prefix(p string) []gwv1.HTTPRouteMatch {
	return []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: ptr.To(gwv1.PathMatchPathPrefix), Value: ptr.To(p)}}}
}

// userRoute is a route as the API server returns it: an /admin rule to another
// Service and a catch-all rule to the user's Service.
func userRoute(rules ...gwv1.HTTPRouteRule) *gwv1.HTTPRoute {
	if rules == nil {
		rules = []gwv1.HTTPRouteRule{
			{Matches: prefix("/admin"), BackendRefs: []gwv1.HTTPBackendRef{gwBackend("admin", ptr.To(int32(1)))}},
			{Matches: prefix("/"), BackendRefs: []gwv1.HTTPBackendRef{gwBackend("web", ptr.To(int32(1)))}},
		}
	}
	return &gwv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Generation: 1, ManagedFields: []metav1.ManagedFieldsEntry{
			{Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate},
		}},
		Spec: gwv1.HTTPRouteSpec{Rules: rules},
	}
}

func liveRoute(t *testing.T, c *gwfake.Clientset) *gwv1.HTTPRoute {
	t.Helper()
	return liveObject(t, c.GatewayV1().HTTPRoutes("ns").Get)
}

// liveObject is object "web" as get reads it from a fake clientset.
func liveObject[R any](t *testing.T, get func(context.Context, string, metav1.GetOptions) (*R, error)) *R {
	t.Helper()
	r, err := get(context.Background(), "web", metav1.GetOptions{})
	require.NoError(t, err)
	return r
}

func weightsOf(rule gwv1.HTTPRouteRule) map[string]int32 {
	return backendWeights(rule.BackendRefs, func(b gwv1.HTTPBackendRef) gwv1.BackendRef { return b.BackendRef })
}

// backendWeights maps the Service of each of a rule's backendRefs to its
// weight (1 when unset, as the Gateway API defaults it).
func backendWeights[B any](refs []B, ref func(B) gwv1.BackendRef) map[string]int32 {
	out := map[string]int32{}
	for _, b := range refs {
		r := ref(b)
		out[string(r.Name)] = ptr.Deref(r.Weight, 1)
	}
	return out
}

func TestGatewaySplitsEveryRuleToTheServiceAndKeepsOthers(t *testing.T) {
	cases := []struct {
		name   string
		rule   gwv1.HTTPRouteRule
		weight int
		want   map[string]int32
	}{
		{"lone backend takes the steps out of 100", gwv1.HTTPRouteRule{Matches: prefix("/"),
			BackendRefs: []gwv1.HTTPBackendRef{gwBackend("web", ptr.To(int32(1)))}}, 10, map[string]int32{"web": 90, "web-canary": 10}},
		{"lone backend of another weight", gwv1.HTTPRouteRule{Matches: prefix("/"),
			BackendRefs: []gwv1.HTTPBackendRef{gwBackend("web", ptr.To(int32(7)))}}, 30, map[string]int32{"web": 70, "web-canary": 30}},
		{"a split rule keeps its proportions", gwv1.HTTPRouteRule{Matches: prefix("/"),
			BackendRefs: []gwv1.HTTPBackendRef{gwBackend("web", ptr.To(int32(3))), gwBackend("legacy", ptr.To(int32(1)))}}, 10,
			map[string]int32{"web": 270, "web-canary": 30, "legacy": 100}},
		{"blue/green switches everything", gwv1.HTTPRouteRule{Matches: prefix("/"),
			BackendRefs: []gwv1.HTTPBackendRef{gwBackend("web", nil)}}, 100, map[string]int32{"web": 0, "web-canary": 100}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			admin := gwv1.HTTPRouteRule{Matches: prefix("/admin"), BackendRefs: []gwv1.HTTPBackendRef{gwBackend("admin", ptr.To(int32(1)))}}
			c := gwfake.NewClientset(userRoute(admin, tc.rule))
			require.NoError(t, Gateway{Client: c}.Apply(context.Background(), gwTarget(), traffic.Split{CanaryWeight: tc.weight}))
			rules := liveRoute(t, c).Spec.Rules
			require.Len(t, rules, 2)
			assert.Equal(t, admin, rules[0], "a rule without the Service is kept as written")
			assert.Equal(t, tc.want, weightsOf(rules[1]))
			assert.Equal(t, tc.rule.Matches, rules[1].Matches)
		})
	}
}

func TestGatewayABAndStickyRulesComeBeforeTheUserRule(t *testing.T) {
	c := gwfake.NewClientset(userRoute())
	split := traffic.Split{CanaryWeight: 20, Sticky: true, Match: &traffic.Match{Kind: traffic.MatchHeader, Name: "x-canary", Value: "always"}}
	require.NoError(t, Gateway{Client: c}.Apply(context.Background(), gwTarget(), split))
	rules := liveRoute(t, c).Spec.Rules
	require.Len(t, rules, 4)
	assert.Equal(t, "admin", string(rules[0].BackendRefs[0].Name))
	assert.Equal(t, GatewayRuleSticky+"1", string(*rules[1].Name))
	assert.Equal(t, GatewayRuleMatch+"1", string(*rules[2].Name))
	for _, r := range rules[1:3] {
		require.Len(t, r.BackendRefs, 1)
		assert.Equal(t, "web-canary", string(r.BackendRefs[0].Name), "%s sends to the canary alone", *r.Name)
		require.Len(t, r.Matches, 1)
		assert.Equal(t, "/", *r.Matches[0].Path.Value, "the user's path match is kept")
		require.Len(t, r.Matches[0].Headers, 1)
	}
	assert.Equal(t, gwv1.HTTPHeaderMatch{Type: ptr.To(gwv1.HeaderMatchExact), Name: "x-canary", Value: "always"}, rules[2].Matches[0].Headers[0])
	cookie := rules[1].Matches[0].Headers[0]
	assert.Equal(t, "Cookie", string(cookie.Name))
	assert.Equal(t, gwv1.HeaderMatchRegularExpression, *cookie.Type)
	assert.Contains(t, cookie.Value, "rolloutd-web=canary")
	assert.Equal(t, map[string]int32{"web": 80, "web-canary": 20}, weightsOf(rules[3]))
	for _, ref := range rules[3].BackendRefs {
		if ref.Name != "web-canary" {
			assert.Empty(t, ref.Filters, "the stable sets no cookie")
			continue
		}
		require.Len(t, ref.Filters, 1)
		assert.Equal(t, gwv1.HTTPRouteFilterResponseHeaderModifier, ref.Filters[0].Type)
		assert.Equal(t, []gwv1.HTTPHeader{{Name: "Set-Cookie", Value: "rolloutd-web=canary; Path=/"}}, ref.Filters[0].ResponseHeaderModifier.Add)
	}
}

func TestGatewayCookieMatchSelectsTheValueAlways(t *testing.T) {
	h := matchHeader(traffic.Match{Kind: traffic.MatchCookie, Name: "canary"})
	assert.Equal(t, "Cookie", string(h.Name))
	assert.Equal(t, cookieRegex("canary", "always"), h.Value)
}

func TestGatewayMirrorAddsARequestMirrorFilter(t *testing.T) {
	c := gwfake.NewClientset(userRoute())
	require.NoError(t, Gateway{Client: c}.Apply(context.Background(), gwTarget(), traffic.Split{MirrorPercent: 25}))
	rules := liveRoute(t, c).Spec.Rules
	require.Len(t, rules, 2)
	assert.Equal(t, map[string]int32{"web": 1}, weightsOf(rules[1]), "mirroring gives the canary no user traffic")
	require.Len(t, rules[1].Filters, 1)
	f := rules[1].Filters[0]
	assert.Equal(t, gwv1.HTTPRouteFilterRequestMirror, f.Type)
	assert.Equal(t, "web-canary", string(f.RequestMirror.BackendRef.Name))
	assert.Equal(t, gwv1.PortNumber(80), *f.RequestMirror.BackendRef.Port)
	assert.Equal(t, int32(25), *f.RequestMirror.Percent)
}

func TestGatewayRestoresTheRulesAndDropsItsFieldManager(t *testing.T) {
	written := userRoute()
	c := gwfake.NewClientset(written.DeepCopy())
	g := Gateway{Client: c}
	ctx := context.Background()
	for _, s := range []traffic.Split{{CanaryWeight: 10}, {CanaryWeight: 50, Sticky: true}, {MirrorPercent: 10}, {CanaryWeight: 100}} {
		require.NoError(t, g.Apply(ctx, gwTarget(), s))
		live := liveRoute(t, c)
		assert.Contains(t, live.Annotations, contract.RulesAnnotation)
		live.ManagedFields = append(live.ManagedFields, metav1.ManagedFieldsEntry{Manager: GatewayFieldManager})
		_, err := c.GatewayV1().HTTPRoutes("ns").Update(ctx, live, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	for _, name := range []string{"reset", "all-stable apply"} {
		if name == "reset" {
			require.NoError(t, g.Reset(ctx, gwTarget()))
		} else {
			require.NoError(t, g.Apply(ctx, gwTarget(), traffic.Split{CanaryWeight: 30}))
			require.NoError(t, g.Apply(ctx, gwTarget(), traffic.Split{}))
		}
		live := liveRoute(t, c)
		assert.Equal(t, written.Spec, live.Spec, "%s: the rules exactly as written", name)
		assert.NotContains(t, live.Annotations, contract.RulesAnnotation, name)
		for _, e := range live.ManagedFields {
			assert.NotEqual(t, GatewayFieldManager, e.Manager, "%s: no rolloutd field manager left", name)
		}
	}
}

func TestGatewayWritesNothingWhenTheRouteAlreadyMatches(t *testing.T) {
	c := gwfake.NewClientset(userRoute())
	g := Gateway{Client: c}
	split := traffic.Split{CanaryWeight: 20, Match: &traffic.Match{Kind: traffic.MatchCookie, Name: "beta"}, Sticky: true}
	ctx := context.Background()
	require.NoError(t, g.Apply(ctx, gwTarget(), split))
	before := gwWrites(c)
	require.NoError(t, g.Apply(ctx, gwTarget(), split))
	assert.Equal(t, before, gwWrites(c), "the second apply only reads")
	require.NoError(t, g.Reset(ctx, gwTarget()))
	assert.Equal(t, before+2, gwWrites(c), "the reset restores the rules, then drops the field manager")
	require.NoError(t, g.Reset(ctx, gwTarget()))
	assert.Equal(t, before+2, gwWrites(c), "the second reset only reads")
}

func gwWrites(c *gwfake.Clientset) int {
	n := 0
	for _, a := range c.Actions() {
		if a.GetVerb() != "get" {
			n++
		}
	}
	return n
}

func TestGatewayRepairsHandEditedWeightsAndAdoptsNewRules(t *testing.T) {
	ctx := context.Background()
	c := gwfake.NewClientset(userRoute())
	g := Gateway{Client: c}
	require.NoError(t, g.Apply(ctx, gwTarget(), traffic.Split{CanaryWeight: 40}))

	// A hand edit (or a GitOps sync) writes the rules back as in Git.
	live := liveRoute(t, c)
	live.Spec.Rules = userRoute().Spec.Rules
	_, err := c.GatewayV1().HTTPRoutes("ns").Update(ctx, live, metav1.UpdateOptions{})
	require.NoError(t, err)
	var drift []string
	tg := gwTarget()
	tg.Drifted = func(object, field string) { drift = append(drift, object+" "+field) }
	require.NoError(t, g.Apply(ctx, tg, traffic.Split{CanaryWeight: 40}))
	assert.Equal(t, map[string]int32{"web": 60, "web-canary": 40}, weightsOf(liveRoute(t, c).Spec.Rules[1]), "the split is repaired")
	assert.Equal(t, []string{"HTTPRoute ns/web spec.rules"}, drift, "the rewrite is reported")
	drift = nil
	require.NoError(t, g.Apply(ctx, tg, traffic.Split{CanaryWeight: 40}))
	assert.Empty(t, drift, "nothing rewritten, nothing reported")

	// The user adds a rule mid-rollout: it is kept, and ends up as written.
	live = liveRoute(t, c)
	extra := gwv1.HTTPRouteRule{Matches: prefix("/static"), BackendRefs: []gwv1.HTTPBackendRef{gwBackend("cdn", ptr.To(int32(1)))}}
	live.Spec.Rules = append([]gwv1.HTTPRouteRule{extra}, live.Spec.Rules...)
	_, err = c.GatewayV1().HTTPRoutes("ns").Update(ctx, live, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.NoError(t, g.Apply(ctx, gwTarget(), traffic.Split{CanaryWeight: 50}))
	assert.Equal(t, map[string]int32{"web": 50, "web-canary": 50}, weightsOf(liveRoute(t, c).Spec.Rules[2]))
	require.NoError(t, g.Reset(ctx, gwTarget()))
	assert.Equal(t, append([]gwv1.HTTPRouteRule{extra}, userRoute().Spec.Rules...), liveRoute(t, c).Spec.Rules)
}

func TestGatewayRejectsARouteWithoutTheService(t *testing.T) {
	c := gwfake.NewClientset(userRoute(gwv1.HTTPRouteRule{Matches: prefix("/"), BackendRefs: []gwv1.HTTPBackendRef{gwBackend("other", nil)}}))
	err := Gateway{Client: c}.Apply(context.Background(), gwTarget(), traffic.Split{CanaryWeight: 10})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rolloutd.io/service")
	err = Gateway{Client: gwfake.NewClientset()}.Apply(context.Background(), gwTarget(), traffic.Split{CanaryWeight: 10})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rolloutd.io/route")
	assert.NoError(t, Gateway{Client: gwfake.NewClientset()}.Reset(context.Background(), gwTarget()), "a missing route is already reset")
}

func TestGatewayWeightReadsTheCanaryShare(t *testing.T) {
	c := gwfake.NewClientset(userRoute())
	g := Gateway{Client: c}
	_, ok, err := g.Weight(context.Background(), gwTarget())
	require.NoError(t, err)
	assert.False(t, ok)
	require.NoError(t, g.Apply(context.Background(), gwTarget(), traffic.Split{CanaryWeight: 30, Sticky: true}))
	w, ok, err := g.Weight(context.Background(), gwTarget())
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, 30, w)
}

func TestGatewayProblemQuotesTheParentsCondition(t *testing.T) {
	cond := func(typ string, st metav1.ConditionStatus, gen int64) gwv1.RouteParentStatus {
		return gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Name: "edge"}, ControllerName: "sim.rolloutd.io/gateway",
			Conditions: []metav1.Condition{{Type: typ, Status: st, ObservedGeneration: gen, Reason: "BackendNotFound", Message: "service web-x not found"}}}
	}
	cases := []struct {
		name   string
		parent *gwv1.RouteParentStatus
		want   string
	}{
		{"no status yet", nil, ""},
		{"accepted", ptr.To(cond("Accepted", metav1.ConditionTrue, 1)), ""},
		{"refs not resolved", ptr.To(cond("ResolvedRefs", metav1.ConditionFalse, 1)), "parent edge: ResolvedRefs=False (BackendNotFound): service web-x not found"},
		{"not accepted", ptr.To(cond("Accepted", metav1.ConditionFalse, 1)), "Accepted=False"},
		{"condition without observedGeneration", ptr.To(cond("Accepted", metav1.ConditionFalse, 0)), "Accepted=False"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := userRoute()
			if tc.parent != nil {
				r.Status.Parents = []gwv1.RouteParentStatus{*tc.parent}
			}
			got, err := Gateway{Client: gwfake.NewClientset(r)}.Problem(context.Background(), gwTarget())
			require.NoError(t, err)
			if tc.want == "" {
				assert.Empty(t, got)
			} else {
				assert.Contains(t, got, tc.want)
			}
		})
	}
	r := userRoute()
	r.Generation = 3
	r.Status.Parents = []gwv1.RouteParentStatus{cond("Accepted", metav1.ConditionFalse, 2)}
	got, err := Gateway{Client: gwfake.NewClientset(r)}.Problem(context.Background(), gwTarget())
	require.NoError(t, err)
	assert.Empty(t, got, "a condition about an older generation is not the route's state now")
	got, err = Gateway{Client: gwfake.NewClientset()}.Problem(context.Background(), gwTarget())
	require.NoError(t, err)
	assert.Contains(t, got, "not found")
}

func TestGatewayProblemRefusesARouteThatNeverSendsToTheService(t *testing.T) {
	other := userRoute(gwv1.HTTPRouteRule{Matches: prefix("/"), BackendRefs: []gwv1.HTTPBackendRef{gwBackend("payments", nil)}})
	got, err := Gateway{Client: gwfake.NewClientset(other)}.Problem(context.Background(), gwTarget())
	require.NoError(t, err)
	assert.Contains(t, got, "has no backendRef to service web")
	got, err = Gateway{Client: gwfake.NewClientset(userRoute())}.Problem(context.Background(), gwTarget())
	require.NoError(t, err)
	assert.Empty(t, got, "a route with one rule to the Service is the Deployment's")
}
