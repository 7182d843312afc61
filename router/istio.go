package router

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// Istio's networking resources (networking.istio.io/v1).
var (
	VirtualServices  = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
	DestinationRules = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}
)

// Istio splits traffic with the VirtualService named after the user's Service.
//
// When no such VirtualService exists, Istio creates one (and a DestinationRule of
// the same name) labelled as generated and owned by the Deployment, and deletes
// them on Reset. When the user has one, only the http routes whose name starts
// with OwnedRoutePrefix are rolloutd's: they are inserted right before the user's
// first route to the Service, copying its match conditions and other fields, so
// they take exactly the requests that route would have taken; the user's routes
// and fields are never edited, and Reset removes the owned routes again.
type Istio struct {
	Client dynamic.Interface
}

// Apply writes the owned routes for split and creates the DestinationRule when
// absent.
func (i Istio) Apply(ctx context.Context, t Target, split traffic.Split) error {
	if err := split.Validate(); err != nil {
		return err
	}
	if err := i.ensureDestinationRule(ctx, t); err != nil {
		return err
	}
	api := i.Client.Resource(VirtualServices).Namespace(t.Namespace)
	have, err := api.Get(ctx, t.Service, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		t.drifted(istioObject("VirtualService", t.Namespace, t.Service), FieldMissing)
		want := newIstioObject("VirtualService", t)
		if err := setHTTP(want, generatedRoutes(t, split)); err != nil {
			return err
		}
		if err := unstructured.SetNestedStringSlice(want.Object, []string{t.Service}, "spec", "hosts"); err != nil {
			return fmt.Errorf("istio: virtualservice %s/%s: %w", t.Namespace, t.Service, err)
		}
		if _, err := api.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("istio: create virtualservice %s/%s: %w", t.Namespace, t.Service, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("istio: get virtualservice %s/%s: %w", t.Namespace, t.Service, err)
	}
	routes, err := httpRoutes(have)
	if err != nil {
		return err
	}
	var next []any
	if isGenerated(have) {
		next = generatedRoutes(t, split)
	} else if next, err = withOwnedRoutes(t, routes, split); err != nil {
		return err
	}
	if !sameJSON(routes, next) {
		t.drifted(istioObject("VirtualService", t.Namespace, t.Service), "spec.http")
	}
	return i.updateHTTP(ctx, have, routes, next)
}

func istioObject(kind, ns, name string) string { return kind + " " + ns + "/" + name }

// Reset deletes the generated VirtualService and DestinationRule, or removes the
// owned routes from the user's VirtualService. A VirtualService the daemon may
// not read (no Istio CRDs, or the chart's rbac.istio off) is one it cannot have
// written, so it is not an error: opting out resets every router.
func (i Istio) Reset(ctx context.Context, t Target) error {
	api := i.Client.Resource(VirtualServices).Namespace(t.Namespace)
	have, err := api.Get(ctx, t.Service, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
	case err != nil:
		return fmt.Errorf("istio: get virtualservice %s/%s: %w", t.Namespace, t.Service, err)
	case isGenerated(have):
		if err := api.Delete(ctx, t.Service, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("istio: delete virtualservice %s/%s: %w", t.Namespace, t.Service, err)
		}
	default:
		routes, err := httpRoutes(have)
		if err != nil {
			return err
		}
		if err := i.updateHTTP(ctx, have, routes, userRoutes(routes)); err != nil {
			return err
		}
	}
	return i.deleteDestinationRule(ctx, t)
}

// Weight reads the canary weight of the owned split route.
func (i Istio) Weight(ctx context.Context, t Target) (int, bool, error) {
	have, err := i.Client.Resource(VirtualServices).Namespace(t.Namespace).Get(ctx, t.Service, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("istio: get virtualservice %s/%s: %w", t.Namespace, t.Service, err)
	}
	routes, err := httpRoutes(have)
	if err != nil {
		return 0, false, err
	}
	for _, r := range routes {
		m, _ := r.(map[string]any)
		if m["name"] != RouteSplit {
			continue
		}
		dests, _ := m["route"].([]any)
		for _, d := range dests {
			dm, _ := d.(map[string]any)
			host, _, _ := unstructured.NestedString(dm, "destination", "host")
			if hostIs(host, t.CanaryService, t.Namespace) {
				w, err := weightOf(dm["weight"])
				return w, true, err
			}
		}
		return 0, true, nil
	}
	return 0, false, nil
}

// updateHTTP writes next as the VirtualService's http routes unless they equal
// the current ones.
func (i Istio) updateHTTP(ctx context.Context, have *unstructured.Unstructured, current, next []any) error {
	if sameJSON(current, next) {
		return nil
	}
	upd := have.DeepCopy()
	if err := setHTTP(upd, next); err != nil {
		return err
	}
	_, err := i.Client.Resource(VirtualServices).Namespace(have.GetNamespace()).Update(ctx, upd, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("istio: update virtualservice %s/%s: %w", have.GetNamespace(), have.GetName(), err)
	}
	return nil
}

// ensureDestinationRule creates the DestinationRule named after the Service when
// absent. It is for the canary host only, so it can never shadow a policy the
// user wrote for the stable host; the user's own rule of that name is kept.
func (i Istio) ensureDestinationRule(ctx context.Context, t Target) error {
	api := i.Client.Resource(DestinationRules).Namespace(t.Namespace)
	_, err := api.Get(ctx, t.Service, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("istio: get destinationrule %s/%s: %w", t.Namespace, t.Service, err)
	}
	t.drifted(istioObject("DestinationRule", t.Namespace, t.Service), FieldMissing)
	dr := newIstioObject("DestinationRule", t)
	if err := unstructured.SetNestedField(dr.Object, t.CanaryService, "spec", "host"); err != nil {
		return fmt.Errorf("istio: destinationrule %s/%s: %w", t.Namespace, t.Service, err)
	}
	if _, err := api.Create(ctx, dr, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("istio: create destinationrule %s/%s: %w", t.Namespace, t.Service, err)
	}
	return nil
}

// deleteDestinationRule deletes the DestinationRule when rolloutd generated it.
func (i Istio) deleteDestinationRule(ctx context.Context, t Target) error {
	api := i.Client.Resource(DestinationRules).Namespace(t.Namespace)
	have, err := api.Get(ctx, t.Service, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
		return nil
	case err != nil:
		return fmt.Errorf("istio: get destinationrule %s/%s: %w", t.Namespace, t.Service, err)
	case !isGenerated(have):
		return nil
	}
	if err := api.Delete(ctx, t.Service, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("istio: delete destinationrule %s/%s: %w", t.Namespace, t.Service, err)
	}
	return nil
}

// newIstioObject returns an empty generated object named after the Service.
func newIstioObject(kind string, t Target) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{}}}
	u.SetAPIVersion("networking.istio.io/v1")
	u.SetKind(kind)
	u.SetName(t.Service)
	u.SetNamespace(t.Namespace)
	u.SetLabels(contract.GeneratedLabels(t.Deployment))
	u.SetOwnerReferences([]metav1.OwnerReference{t.Owner})
	return u
}

func isGenerated(u *unstructured.Unstructured) bool {
	return u.GetLabels()[contract.ManagedByLabel] == contract.ManagedByValue
}

func httpRoutes(u *unstructured.Unstructured) ([]any, error) {
	routes, _, err := unstructured.NestedSlice(u.Object, "spec", "http")
	if err != nil {
		return nil, fmt.Errorf("istio: virtualservice %s/%s: spec.http: %w", u.GetNamespace(), u.GetName(), err)
	}
	return routes, nil
}

func setHTTP(u *unstructured.Unstructured, routes []any) error {
	if err := unstructured.SetNestedSlice(u.Object, routes, "spec", "http"); err != nil {
		return fmt.Errorf("istio: virtualservice %s/%s: set spec.http: %w", u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

// sameJSON compares two JSON values by their encoding, so that 10 read back from
// the API server as an integer equals the 10.0 a float field was written with.
func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// hostIs reports whether an Istio destination host names the Service svc in
// namespace ns (short name, svc.ns, svc.ns.svc or the cluster FQDN).
func hostIs(host, svc, ns string) bool {
	switch strings.TrimSuffix(host, ".cluster.local") {
	case svc, svc + "." + ns, svc + "." + ns + ".svc":
		return true
	}
	return false
}

func weightOf(v any) (int, error) {
	switch w := v.(type) {
	case nil:
		return 0, nil
	case int64:
		return int(w), nil
	case float64:
		return int(w), nil
	}
	return 0, fmt.Errorf("istio: weight %v is not a number", v)
}
