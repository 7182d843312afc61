package controller

import (
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// meshInformers watch Istio's VirtualServices and DestinationRules, kept as
// identity, resourceVersion and which Deployment's routes they carry. They exist
// only where the daemon may watch them (the app checks the API and its rights);
// without them the Istio router is compared with the API at every reconcile.
type meshInformers struct {
	watched informerGroup
	vs, dr  map[string]cache.GenericLister
}

// group is the Istio informers (nil without them).
func (m *meshInformers) group() *informerGroup {
	if m == nil {
		return nil
	}
	return &m.watched
}

// WatchIstio adds the Istio informers; call it before the controller is built.
func (i *Informers) WatchIstio(dyn dynamic.Interface, namespaces []string, resync time.Duration) error {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	m := &meshInformers{vs: map[string]cache.GenericLister{}, dr: map[string]cache.GenericLister{}}
	for _, ns := range namespaces {
		f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, resync, ns, nil)
		vs, dr := f.ForResource(router.VirtualServices), f.ForResource(router.DestinationRules)
		for _, inf := range []cache.SharedIndexInformer{vs.Informer(), dr.Informer()} {
			if err := inf.SetTransform(slimMesh); err != nil {
				return err
			}
			m.watched.all = append(m.watched.all, inf)
		}
		m.watched.factories = append(m.watched.factories, f)
		m.vs[ns], m.dr[ns] = vs.Lister(), dr.Lister()
	}
	i.mesh = m
	return nil
}

// version is the resourceVersion of a cached Istio object ("-" when absent).
func (m *meshInformers) version(l map[string]cache.GenericLister, ns, name string) string {
	lst, ok := lister(l, ns)
	if !ok {
		return "-"
	}
	obj, err := lst.ByNamespace(ns).Get(name)
	if err != nil {
		return "-"
	}
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return "v" + u.GetResourceVersion()
	}
	return "-"
}

// carrying lists the names of cached objects of l generated for, or carrying
// routes of, Deployment ns/owner.
func (m *meshInformers) carrying(l map[string]cache.GenericLister, ns, owner string) []string {
	lst, ok := lister(l, ns)
	if !ok {
		return nil
	}
	objs, err := lst.ByNamespace(ns).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []string
	for _, o := range objs {
		if n, name := generatorOf(o); n == ns && name == owner {
			out = append(out, o.(*unstructured.Unstructured).GetName())
		}
	}
	return out
}

// slimMesh keeps an Istio object's identity, resourceVersion, its labels when
// generated, and for a user's VirtualService the Deployment whose routes it
// carries (the canary host of a rolloutd- route). Idempotent: a slimmed copy keeps
// its mark.
func slimMesh(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	out := &unstructured.Unstructured{Object: map[string]any{}}
	out.SetAPIVersion(u.GetAPIVersion())
	out.SetKind(u.GetKind())
	out.SetName(u.GetName())
	out.SetNamespace(u.GetNamespace())
	out.SetUID(u.GetUID())
	out.SetResourceVersion(u.GetResourceVersion())
	if isGenerated(u.GetLabels()) {
		out.SetLabels(u.GetLabels())
		return out, nil
	}
	owner := u.GetAnnotations()[routesOfKey]
	if owner == "" {
		owner = routesOwner(u)
	}
	if owner != "" {
		out.SetAnnotations(map[string]string{routesOfKey: owner})
	}
	return out, nil
}

// routesOwner finds the Deployment whose canary Service a rolloutd- route of a
// VirtualService sends to ("" when it has none).
func routesOwner(u *unstructured.Unstructured) string {
	routes, _, _ := unstructured.NestedSlice(u.Object, "spec", "http")
	for _, r := range routes {
		m, _ := r.(map[string]any)
		if name, _ := m["name"].(string); !strings.HasPrefix(name, router.OwnedRoutePrefix) {
			continue
		}
		dests, _ := m["route"].([]any)
		for _, d := range dests {
			dm, _ := d.(map[string]any)
			host, _, _ := unstructured.NestedString(dm, "destination", "host")
			host, _, _ = strings.Cut(host, ".")
			if owner, ok := strings.CutSuffix(host, contract.CanaryName("")); ok && owner != "" {
				return owner
			}
		}
	}
	return ""
}
