package router

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/rolloutd/rolloutd/traffic"
)

// GatewayFieldManager is the field manager of every write rolloutd makes to a
// user's HTTPRoute: while a rollout runs, managedFields show spec.rules and the
// RulesAnnotation as rolloutd's; none of its entries are left once the route is
// restored.
const GatewayFieldManager = "rolloutd"

// RulesAnnotation holds, on a user's HTTPRoute being split, its spec.rules as
// the user wrote them (JSON), so that every way out restores them exactly.
const RulesAnnotation = "rolloutd.io/route-rules"

// Gateway splits traffic in the user's Gateway API HTTPRoute named by the
// target's Route. It adds the canary Service as a weighted backendRef beside
// the user's Service in every rule that sends to it (and the A/B, sticky and
// mirror additions), never creates or deletes the route, and restores the
// rules exactly as written when the canary gets no traffic.
//
// spec.rules is an atomic list in the Gateway API schema, so no field manager
// can own part of it: rolloutd writes the whole list by update (optimistic
// concurrency on resourceVersion) under its own field manager, and removes
// that manager's entry from managedFields after restoring the rules.
type Gateway struct {
	Client gwclient.Interface
}

// Apply writes the rules for split into the user's HTTPRoute; an all-stable
// split restores the rules as written.
func (g Gateway) Apply(ctx context.Context, t Target, split traffic.Split) error {
	if err := split.Validate(); err != nil {
		return err
	}
	route, err := g.get(ctx, t)
	if err != nil {
		return err
	}
	user, err := writtenRules(route, t)
	if err != nil {
		return err
	}
	if split.AllStable() {
		return g.restore(ctx, route, user)
	}
	want, err := gatewayRules(user, t, split)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(user)
	if err != nil {
		return fmt.Errorf("gateway: encode rules of httproute %s/%s: %w", t.Namespace, t.Route, err)
	}
	if sameRules(route.Spec.Rules, want) && route.Annotations[RulesAnnotation] == string(raw) {
		return nil
	}
	if !sameRules(route.Spec.Rules, want) {
		t.drifted("HTTPRoute "+t.Namespace+"/"+t.Route, "spec.rules")
	}
	if route.Annotations[RulesAnnotation] != string(raw) {
		t.drifted("HTTPRoute "+t.Namespace+"/"+t.Route, "metadata.annotations["+RulesAnnotation+"]")
	}
	upd := route.DeepCopy()
	if upd.Annotations == nil {
		upd.Annotations = map[string]string{}
	}
	upd.Annotations[RulesAnnotation] = string(raw)
	upd.Spec.Rules = want
	_, err = g.update(ctx, upd)
	return err
}

// Reset restores the user's rules. A route that is gone, or that the daemon may
// not read (no Gateway API CRDs, or the chart's rbac.gateway off), is one it
// cannot have changed, so it is not an error: opting out resets every router.
func (g Gateway) Reset(ctx context.Context, t Target) error {
	route, err := g.Client.GatewayV1().HTTPRoutes(t.Namespace).Get(ctx, t.Route, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
		return nil
	case err != nil:
		return fmt.Errorf("gateway: get httproute %s/%s: %w", t.Namespace, t.Route, err)
	}
	user, err := writtenRules(route, t)
	if err != nil {
		return err
	}
	return g.restore(ctx, route, user)
}

// Weight reads the canary's share of the first rule that sends to it.
func (g Gateway) Weight(ctx context.Context, t Target) (int, bool, error) {
	route, err := g.Client.GatewayV1().HTTPRoutes(t.Namespace).Get(ctx, t.Route, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("gateway: get httproute %s/%s: %w", t.Namespace, t.Route, err)
	}
	w, ok := GatewayCanaryWeight(route.Spec.Rules, t.Service, t.CanaryService)
	return w, ok, nil
}

// GatewayCanaryWeight returns the canary's percentage of the stable and canary
// weights in the first rule (not an A/B or sticky copy) with a canary backendRef.
func GatewayCanaryWeight(rules []gwv1.HTTPRouteRule, service, canary string) (int, bool) {
	for _, r := range rules {
		if r.Name != nil && strings.HasPrefix(string(*r.Name), OwnedRoutePrefix) {
			continue
		}
		var s, c int64
		found := false
		for _, ref := range r.BackendRefs {
			w := int64(1)
			if ref.Weight != nil {
				w = int64(*ref.Weight)
			}
			switch {
			case isServiceRef(ref.BackendObjectReference, canary):
				c, found = c+w, true
			case isServiceRef(ref.BackendObjectReference, service):
				s += w
			}
		}
		if found {
			if s+c == 0 {
				return 0, true
			}
			return int((100*c + (s+c)/2) / (s + c)), true
		}
	}
	return 0, false
}

func (g Gateway) get(ctx context.Context, t Target) (*gwv1.HTTPRoute, error) {
	route, err := g.Client.GatewayV1().HTTPRoutes(t.Namespace).Get(ctx, t.Route, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("gateway: get httproute %s/%s (set rolloutd.io/route to the HTTPRoute to split): %w", t.Namespace, t.Route, err)
	}
	return route, nil
}

// writtenRules returns the rules as the user wrote them: the recorded ones,
// unless the user has changed more than weights since (then their edit is
// taken); the live rules without rolloutd's additions when none are recorded.
func writtenRules(route *gwv1.HTTPRoute, t Target) ([]gwv1.HTTPRouteRule, error) {
	stripped := userRulesOf(route.Spec.Rules, t)
	raw, ok := route.Annotations[RulesAnnotation]
	if !ok {
		return stripped, nil
	}
	var kept []gwv1.HTTPRouteRule
	if err := json.Unmarshal([]byte(raw), &kept); err != nil {
		return nil, fmt.Errorf("gateway: httproute %s/%s: annotation %s: %w", t.Namespace, t.Route, RulesAnnotation, err)
	}
	return adoptUserEdits(stripped, kept), nil
}

// restore writes the user's rules back and drops the annotation, then removes
// rolloutd's field manager entry; each step is skipped when already done.
func (g Gateway) restore(ctx context.Context, route *gwv1.HTTPRoute, user []gwv1.HTTPRouteRule) error {
	_, recorded := route.Annotations[RulesAnnotation]
	if recorded || !sameRules(route.Spec.Rules, user) {
		upd := route.DeepCopy()
		delete(upd.Annotations, RulesAnnotation)
		upd.Spec.Rules = user
		out, err := g.update(ctx, upd)
		if err != nil {
			return err
		}
		route = out
	}
	return g.dropFieldManager(ctx, route)
}

func (g Gateway) update(ctx context.Context, route *gwv1.HTTPRoute) (*gwv1.HTTPRoute, error) {
	out, err := g.Client.GatewayV1().HTTPRoutes(route.Namespace).Update(ctx, route, metav1.UpdateOptions{FieldManager: GatewayFieldManager})
	if err != nil {
		return nil, fmt.Errorf("gateway: update httproute %s/%s: %w", route.Namespace, route.Name, err)
	}
	return out, nil
}

// dropFieldManager removes rolloutd's entries from the route's managedFields,
// guarded by the resourceVersion read, so a route handed back carries no trace
// of rolloutd. An empty list would leave managedFields as they are, so the
// last entry going leaves the one empty entry that clears them.
func (g Gateway) dropFieldManager(ctx context.Context, route *gwv1.HTTPRoute) error {
	var keep []metav1.ManagedFieldsEntry
	for _, e := range route.ManagedFields {
		if e.Manager != GatewayFieldManager {
			keep = append(keep, e)
		}
	}
	if len(keep) == len(route.ManagedFields) {
		return nil
	}
	if len(keep) == 0 {
		keep = []metav1.ManagedFieldsEntry{{}}
	}
	ops := []map[string]any{{"op": "replace", "path": "/metadata/managedFields", "value": keep}}
	if route.ResourceVersion != "" {
		ops = append([]map[string]any{{"op": "test", "path": "/metadata/resourceVersion", "value": route.ResourceVersion}}, ops...)
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return fmt.Errorf("gateway: encode managedFields patch: %w", err)
	}
	_, err = g.Client.GatewayV1().HTTPRoutes(route.Namespace).Patch(ctx, route.Name, types.JSONPatchType, patch,
		metav1.PatchOptions{FieldManager: GatewayFieldManager})
	if err != nil {
		return fmt.Errorf("gateway: drop field manager %s from httproute %s/%s: %w", GatewayFieldManager, route.Namespace, route.Name, err)
	}
	return nil
}

// Problem says why the target's HTTPRoute cannot carry a canary ("" when it
// can): it is missing, or a parent Gateway reports it not Accepted or its
// references not resolved for the route's current generation. The message
// quotes the condition's, so the Event names the Gateway's own reason.
func (g Gateway) Problem(ctx context.Context, t Target) (string, error) {
	route, err := g.Client.GatewayV1().HTTPRoutes(t.Namespace).Get(ctx, t.Route, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("httproute %s/%s not found (set rolloutd.io/route to the HTTPRoute to split)", t.Namespace, t.Route), nil
	}
	if err != nil {
		return "", fmt.Errorf("gateway: get httproute %s/%s: %w", t.Namespace, t.Route, err)
	}
	for _, p := range route.Status.Parents {
		for _, c := range p.Conditions {
			bad := c.Status == metav1.ConditionFalse && (c.Type == string(gwv1.RouteConditionAccepted) || c.Type == string(gwv1.RouteConditionResolvedRefs))
			if bad && (c.ObservedGeneration == 0 || c.ObservedGeneration == route.Generation) {
				return fmt.Sprintf("httproute %s/%s: parent %s: %s=False (%s): %s",
					t.Namespace, t.Route, p.ParentRef.Name, c.Type, c.Reason, c.Message), nil
			}
		}
	}
	return "", nil
}
