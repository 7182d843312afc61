package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// The route cache keeps, for a route rolloutd holds, the Deployments whose
// canary Services it sends to, so a deleted Deployment's routes are found from
// the cache; a slimmed copy keeps the mark, and a route rolloutd does not hold
// (no rules annotation) or one without canary backendRefs carries none.
func TestSlimRouteMarksTheDeploymentsWhoseCanariesItCarries(t *testing.T) {
	ref := func(name string) gwv1.HTTPBackendRef {
		return gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(name)}}}
	}
	route := func(held bool, backends ...string) *gwv1.HTTPRoute {
		r := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "ns"}}
		if held {
			r.Annotations = map[string]string{contract.RulesAnnotation: "[]"}
		}
		rule := gwv1.HTTPRouteRule{}
		for _, b := range backends {
			rule.BackendRefs = append(rule.BackendRefs, ref(b))
		}
		r.Spec.Rules = []gwv1.HTTPRouteRule{rule, {BackendRefs: []gwv1.HTTPBackendRef{ref("api-canary"), ref("web-canary")}}}
		return r
	}
	mark := func(obj any) string {
		slim, err := slimRoute(obj)
		assert.NoError(t, err)
		return slim.(*gwv1.HTTPRoute).Annotations[carriesKey]
	}
	assert.Equal(t, "web,api", mark(route(true, "web", "web-canary")))
	assert.Empty(t, mark(route(false, "web", "web-canary")), "not held by rolloutd")

	slim, err := slimRoute(route(true, "web", "web-canary"))
	assert.NoError(t, err)
	assert.Equal(t, "web,api", mark(slim), "a slimmed copy keeps its mark")
	assert.Empty(t, slim.(*gwv1.HTTPRoute).Spec.Rules, "only the identity and the mark are cached")
}
