package controller

import (
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gwinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
	gwlisters "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// routeInformers watch the Gateway API routes router gateway splits
// (HTTPRoutes, and GRPCRoutes where served and allowed), each cached as its
// identity and resourceVersion only. A route is the user's own object, with
// no owner reference or label of rolloutd's, so its events find the
// Deployments to reconcile through the byRoute index of the Deployment cache:
// a route no opted-in Deployment names costs an index lookup. They exist only
// where the daemon may watch routes (the app checks the API and its rights);
// for a kind not watched, an active rollout looks at its route every
// routeRecheck instead.
type routeInformers struct {
	watched informerGroup
	http    map[string]gwlisters.HTTPRouteLister
	grpc    map[string]gwlisters.GRPCRouteLister
}

// group is the route informers (nil without them).
func (r *routeInformers) group() *informerGroup {
	if r == nil {
		return nil
	}
	return &r.watched
}

// byRoute indexes opted-in Deployments of router gateway by the route they
// split, "Kind:namespace/name".
const byRoute = "route"

// routeKey is the byRoute key of the route kind ns/name.
func routeKey(kind contract.RouteKind, ns, name string) string {
	return string(kind) + ":" + ns + "/" + name
}

// routeOf is the byRoute index function: the route a Deployment of router
// gateway names (rolloutd.io/route, by default the HTTPRoute of its own name).
func routeOf(obj any) ([]string, error) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok || d.Annotations[contract.KeyRouter] != string(contract.RouterGateway) {
		return nil, nil
	}
	kind, name := contract.RouteOf(d.Name, d.Annotations)
	return []string{routeKey(kind, d.Namespace, name)}, nil
}

// RouteKinds say which route kinds WatchGateway watches.
type RouteKinds struct{ HTTP, GRPC bool }

// WatchGateway adds the informers of the route kinds given; call it before
// the controller is built.
func (i *Informers) WatchGateway(gw gwclient.Interface, namespaces []string, resync time.Duration, kinds RouteKinds) error {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	r := &routeInformers{http: map[string]gwlisters.HTTPRouteLister{}, grpc: map[string]gwlisters.GRPCRouteLister{}}
	for _, ns := range namespaces {
		f := gwinformers.NewSharedInformerFactoryWithOptions(gw, resync, gwinformers.WithNamespace(ns))
		if kinds.HTTP {
			hr := f.Gateway().V1().HTTPRoutes()
			r.http[ns] = hr.Lister()
			r.watched.all = append(r.watched.all, hr.Informer())
		}
		if kinds.GRPC {
			gr := f.Gateway().V1().GRPCRoutes()
			r.grpc[ns] = gr.Lister()
			r.watched.all = append(r.watched.all, gr.Informer())
		}
		r.watched.factories = append(r.watched.factories, f)
	}
	for _, inf := range r.watched.all {
		if err := inf.SetTransform(slimRoute); err != nil {
			return err
		}
	}
	i.routes = r
	return nil
}

// watches reports whether routes of kind are watched and their caches synced.
func (r *routeInformers) watches(kind contract.RouteKind) bool {
	if !r.group().synced() {
		return false
	}
	if kind == contract.RouteGRPC {
		return len(r.grpc) > 0
	}
	return len(r.http) > 0
}

// version is the resourceVersion of the cached route kind ns/name ("-" when
// absent).
func (r *routeInformers) version(kind contract.RouteKind, ns, name string) string {
	var obj metav1.Object
	var err error
	if kind == contract.RouteGRPC {
		l, ok := lister(r.grpc, ns)
		if !ok {
			return "-"
		}
		obj, err = l.GRPCRoutes(ns).Get(name)
	} else {
		l, ok := lister(r.http, ns)
		if !ok {
			return "-"
		}
		obj, err = l.HTTPRoutes(ns).Get(name)
	}
	if err != nil {
		return "-"
	}
	return "v" + obj.GetResourceVersion()
}

// addRouteHandler enqueues, on every event of a route, the Deployments that
// name it.
func (i *Informers) addRouteHandler(enqueue func(key string)) error {
	users := func(obj any) {
		obj = untombed(obj)
		var kind contract.RouteKind
		switch obj.(type) {
		case *gwv1.HTTPRoute:
			kind = contract.RouteHTTP
		case *gwv1.GRPCRoute:
			kind = contract.RouteGRPC
		default:
			return
		}
		route := obj.(metav1.Object)
		idx, ok := lister(i.deployments, route.GetNamespace())
		if !ok {
			return
		}
		objs, err := idx.ByIndex(byRoute, routeKey(kind, route.GetNamespace(), route.GetName()))
		if err != nil {
			return
		}
		for _, o := range objs {
			if d, ok := o.(*appsv1.Deployment); ok {
				enqueue(d.Namespace + "/" + d.Name)
			}
		}
	}
	h := cache.ResourceEventHandlerFuncs{AddFunc: users, UpdateFunc: func(_, obj any) { users(obj) }, DeleteFunc: users}
	for _, inf := range i.routes.group().informers() {
		if _, err := inf.AddEventHandler(h); err != nil {
			return err
		}
	}
	return nil
}

// slimRoute keeps a route's identity and resourceVersion: a reconcile reads the
// version to know whether the router must compare the route again, and the
// router reads the route itself then. A route rolloutd holds (its rules kept in
// contract.RulesAnnotation) also keeps which Deployments' canaries it sends to,
// so the routes of a deleted Deployment are found without an API call.
// Idempotent: a slimmed copy keeps its mark.
func slimRoute(obj any) (any, error) {
	switch r := obj.(type) {
	case *gwv1.HTTPRoute:
		refs := backendObjects(r.Spec.Rules, func(rule gwv1.HTTPRouteRule) []gwv1.HTTPBackendRef { return rule.BackendRefs },
			func(b gwv1.HTTPBackendRef) gwv1.BackendRef { return b.BackendRef })
		return &gwv1.HTTPRoute{ObjectMeta: slimRouteMeta(r.ObjectMeta, refs)}, nil
	case *gwv1.GRPCRoute:
		refs := backendObjects(r.Spec.Rules, func(rule gwv1.GRPCRouteRule) []gwv1.GRPCBackendRef { return rule.BackendRefs },
			func(b gwv1.GRPCBackendRef) gwv1.BackendRef { return b.BackendRef })
		return &gwv1.GRPCRoute{ObjectMeta: slimRouteMeta(r.ObjectMeta, refs)}, nil
	}
	return obj, nil
}

// carriesKey marks, in the route cache only, a route rolloutd holds: the
// Deployments whose canary Services its rules send to, comma-separated.
const carriesKey = "cache.rolloutd.io/carries"

// backendObjects lists the objects the rules send to, rule by rule. HTTP and
// gRPC rules hold different backendRef types around the same BackendRef: refs
// gives a rule's backendRefs, ref the BackendRef inside one.
func backendObjects[R, B any](rules []R, refs func(R) []B, ref func(B) gwv1.BackendRef) []gwv1.BackendObjectReference {
	var out []gwv1.BackendObjectReference
	for _, rule := range rules {
		for _, b := range refs(rule) {
			out = append(out, ref(b).BackendObjectReference)
		}
	}
	return out
}

// slimRouteMeta is slimMeta with the carriesKey mark of a route rolloutd holds
// whose backendRefs name canary Services.
func slimRouteMeta(m metav1.ObjectMeta, refs []gwv1.BackendObjectReference) metav1.ObjectMeta {
	out := slimMeta(m)
	if mark, ok := m.Annotations[carriesKey]; ok {
		out.Annotations = map[string]string{carriesKey: mark}
		return out
	}
	if _, held := m.Annotations[contract.RulesAnnotation]; !held {
		return out
	}
	var owners []string
	for _, ref := range refs {
		name := string(ref.Name)
		kind := ref.Kind == nil || *ref.Kind == "Service"
		if owner, ok := strings.CutSuffix(name, contract.CanarySuffix); ok && kind && owner != "" && !slices.Contains(owners, owner) {
			owners = append(owners, owner)
		}
	}
	if len(owners) > 0 {
		out.Annotations = map[string]string{carriesKey: strings.Join(owners, ",")}
	}
	return out
}

// carrying lists the routes of ns, by kind, that send to owner's canary.
func (r *routeInformers) carrying(ns, owner string) map[contract.RouteKind][]string {
	out := map[contract.RouteKind][]string{}
	if !r.group().synced() {
		return out
	}
	marked := func(m metav1.Object) bool {
		return slices.Contains(strings.Split(m.GetAnnotations()[carriesKey], ","), owner)
	}
	if l, ok := lister(r.http, ns); ok {
		routes, _ := l.HTTPRoutes(ns).List(labels.Everything())
		for _, rt := range routes {
			if marked(rt) {
				out[contract.RouteHTTP] = append(out[contract.RouteHTTP], rt.Name)
			}
		}
	}
	if l, ok := lister(r.grpc, ns); ok {
		routes, _ := l.GRPCRoutes(ns).List(labels.Everything())
		for _, rt := range routes {
			if marked(rt) {
				out[contract.RouteGRPC] = append(out[contract.RouteGRPC], rt.Name)
			}
		}
	}
	return out
}
