package router

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// GatewayFieldManager is the field manager of every write rolloutd makes to a
// user's HTTPRoute: while a rollout runs, managedFields show spec.rules and the
// RulesAnnotation as rolloutd's; none of its entries are left once the route is
// restored.
const GatewayFieldManager = "rolloutd"

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

// Apply writes the rules for split into the user's route; an all-stable
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
	raw, err := encodeRules(route.Kind, user)
	if err != nil {
		return fmt.Errorf("gateway: encode rules of %s: %w", routeName(t), err)
	}
	object := route.Kind + " " + t.Namespace + "/" + t.Route
	sameAnnotation := route.Annotations[contract.RulesAnnotation] == raw
	if sameRules(route.Rules, want) && sameAnnotation {
		return nil
	}
	if !sameRules(route.Rules, want) {
		t.drifted(object, "spec.rules")
	}
	if !sameAnnotation {
		t.drifted(object, "metadata.annotations["+contract.RulesAnnotation+"]")
	}
	upd := *route
	upd.ObjectMeta = *route.ObjectMeta.DeepCopy()
	if upd.Annotations == nil {
		upd.Annotations = map[string]string{}
	}
	upd.Annotations[contract.RulesAnnotation] = raw
	upd.Rules = want
	_, err = g.updateRoute(ctx, &upd)
	return err
}

// Reset restores the user's rules. A route that is gone, or that the daemon may
// not read (no Gateway API CRDs, or the chart's rbac.gateway off), is one it
// cannot have changed, so it is not an error: opting out resets every router.
func (g Gateway) Reset(ctx context.Context, t Target) error {
	// A route changed between the two writes (its status, by the Gateway) is
	// read again: once the rules are restored nothing may be left to find it by
	// (the Deployment may be gone), so the field manager is dropped now.
	return retry.OnError(retry.DefaultRetry, changedMeanwhile, func() error {
		route, err := g.getRoute(ctx, t)
		switch {
		case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
			return nil
		case err != nil:
			return fmt.Errorf("gateway: get %s: %w", routeName(t), err)
		}
		user, err := writtenRules(route, t)
		if err != nil {
			return err
		}
		return g.restore(ctx, route, user)
	})
}

// changedMeanwhile reports a write refused because the object changed since it
// was read: a conflict, or the resourceVersion test of a JSON patch.
func changedMeanwhile(err error) bool { return apierrors.IsConflict(err) || apierrors.IsInvalid(err) }

// Weight reads the canary's share of the first rule that sends to it.
func (g Gateway) Weight(ctx context.Context, t Target) (int, bool, error) {
	route, err := g.getRoute(ctx, t)
	if apierrors.IsNotFound(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("gateway: get %s: %w", routeName(t), err)
	}
	w, ok := GatewayCanaryWeight(route.Rules, t.Service, t.CanaryService)
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

func (g Gateway) get(ctx context.Context, t Target) (*routeView, error) {
	route, err := g.getRoute(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("gateway: get %s (set rolloutd.io/route to the route to split): %w", routeName(t), err)
	}
	return route, nil
}

// encodeRules is the RulesAnnotation value of rules, in the route's own kind.
func encodeRules(kind string, rules []gwv1.HTTPRouteRule) (string, error) {
	var v any = rules
	if kind == RouteKindGRPC {
		v = httpToGRPCRules(rules)
	}
	raw, err := json.Marshal(v)
	return string(raw), err
}

// decodeRules reads a RulesAnnotation value written by encodeRules.
func decodeRules(kind, raw string) ([]gwv1.HTTPRouteRule, error) {
	if kind == RouteKindGRPC {
		var grpc []gwv1.GRPCRouteRule
		if err := json.Unmarshal([]byte(raw), &grpc); err != nil {
			return nil, err
		}
		return grpcToHTTPRules(grpc), nil
	}
	var rules []gwv1.HTTPRouteRule
	err := json.Unmarshal([]byte(raw), &rules)
	return rules, err
}

// writtenRules returns the rules as the user wrote them: the recorded ones,
// unless the user has changed more than weights since (then their edit is
// taken); the live rules without rolloutd's additions when none are recorded.
func writtenRules(route *routeView, t Target) ([]gwv1.HTTPRouteRule, error) {
	stripped := userRulesOf(route.Rules, t)
	raw, ok := route.Annotations[contract.RulesAnnotation]
	if !ok {
		return stripped, nil
	}
	kept, err := decodeRules(route.Kind, raw)
	if err != nil {
		return nil, fmt.Errorf("gateway: %s: annotation %s: %w", routeName(t), contract.RulesAnnotation, err)
	}
	return adoptUserEdits(stripped, kept), nil
}

// restore writes the user's rules back and drops the annotation, then removes
// rolloutd's field manager entry; each step is skipped when already done.
func (g Gateway) restore(ctx context.Context, route *routeView, user []gwv1.HTTPRouteRule) error {
	_, recorded := route.Annotations[contract.RulesAnnotation]
	if recorded || !sameRules(route.Rules, user) {
		upd := *route
		upd.ObjectMeta = *route.ObjectMeta.DeepCopy()
		delete(upd.Annotations, contract.RulesAnnotation)
		upd.Rules = user
		out, err := g.updateRoute(ctx, &upd)
		if err != nil {
			return err
		}
		route = out
	}
	return g.dropFieldManager(ctx, route)
}

// dropFieldManager removes rolloutd's entries from the route's managedFields,
// guarded by the resourceVersion read, so a route handed back carries no trace
// of rolloutd. An empty list would leave managedFields as they are, so the
// last entry going leaves the one empty entry that clears them.
func (g Gateway) dropFieldManager(ctx context.Context, route *routeView) error {
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
	if err := g.patchRoute(ctx, route, patch); err != nil {
		return fmt.Errorf("gateway: drop field manager %s from %s %s/%s: %w", GatewayFieldManager,
			strings.ToLower(route.Kind), route.Namespace, route.Name, err)
	}
	return nil
}

// Problem says why the target's route cannot carry a canary ("" when it
// can): it is missing, or a parent Gateway reports it not Accepted or its
// references not resolved for the route's current generation. The message
// quotes the condition's, so the Event names the Gateway's own reason.
func (g Gateway) Problem(ctx context.Context, t Target) (string, error) {
	route, err := g.getRoute(ctx, t)
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("%s not found (set rolloutd.io/route to the route to split)", routeName(t)), nil
	}
	if err != nil {
		return "", fmt.Errorf("gateway: get %s: %w", routeName(t), err)
	}
	if !routesTo(route.Rules, t.Service) {
		// The route must be the Deployment's: one that never sends to its Service
		// belongs to someone else, whose traffic a canary must not take.
		return fmt.Sprintf("%s has no backendRef to service %s: rolloutd.io/route must name a route "+
			"sending to the Deployment's Service", routeName(t), t.Service), nil
	}
	for _, p := range route.Parents {
		for _, c := range p.Conditions {
			bad := c.Status == metav1.ConditionFalse && (c.Type == string(gwv1.RouteConditionAccepted) || c.Type == string(gwv1.RouteConditionResolvedRefs))
			if bad && (c.ObservedGeneration == 0 || c.ObservedGeneration == route.Generation) {
				return fmt.Sprintf("%s: parent %s: %s=False (%s): %s",
					routeName(t), p.ParentRef.Name, c.Type, c.Reason, c.Message), nil
			}
		}
	}
	return "", nil
}

// routesTo reports whether a rule the user wrote has a backendRef to svc.
func routesTo(rules []gwv1.HTTPRouteRule, svc string) bool {
	for _, r := range rules {
		if r.Name != nil && strings.HasPrefix(string(*r.Name), OwnedRoutePrefix) {
			continue
		}
		for _, ref := range r.BackendRefs {
			if isServiceRef(ref.BackendObjectReference, svc) {
				return true
			}
		}
	}
	return false
}
