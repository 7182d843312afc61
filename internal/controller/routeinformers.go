package controller

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gwinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
	gwlisters "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"

	"github.com/rolloutd/rolloutd/internal/spec"
)

// routeInformers watch the Gateway API HTTPRoutes router gateway splits, each
// cached as its identity and resourceVersion only. A route is the user's own
// object, with no owner reference or label of rolloutd's, so its events find
// the Deployments to reconcile through the byRoute index of the Deployment
// cache: a route no opted-in Deployment names costs an index lookup. They
// exist only where the daemon may watch routes (the app checks the API and its
// rights); without them an active rollout looks at its route every
// routeRecheck instead.
type routeInformers struct {
	factories []gwinformers.SharedInformerFactory
	http      map[string]gwlisters.HTTPRouteLister
	all       []cache.SharedIndexInformer
}

// byRoute indexes opted-in Deployments of router gateway by the route they
// split, "namespace/name".
const byRoute = "route"

// routeKey is the byRoute key of the route ns/name.
func routeKey(ns, name string) string { return ns + "/" + name }

// routeOf is the byRoute index function: the route a Deployment of router
// gateway names (rolloutd.io/route, by default its own name).
func routeOf(obj any) ([]string, error) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok || d.Annotations[spec.KeyRouter] != string(spec.RouterGateway) {
		return nil, nil
	}
	name := d.Annotations[spec.KeyRoute]
	if name == "" {
		name = d.Name
	}
	return []string{routeKey(d.Namespace, name)}, nil
}

// WatchGateway adds the HTTPRoute informers; call it before the controller is
// built.
func (i *Informers) WatchGateway(gw gwclient.Interface, namespaces []string, resync time.Duration) error {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	r := &routeInformers{http: map[string]gwlisters.HTTPRouteLister{}}
	for _, ns := range namespaces {
		f := gwinformers.NewSharedInformerFactoryWithOptions(gw, resync, gwinformers.WithNamespace(ns))
		hr := f.Gateway().V1().HTTPRoutes()
		if err := hr.Informer().SetTransform(slimRoute); err != nil {
			return err
		}
		r.factories = append(r.factories, f)
		r.http[ns] = hr.Lister()
		r.all = append(r.all, hr.Informer())
	}
	i.routes = r
	return nil
}

func (r *routeInformers) informers() []cache.SharedIndexInformer {
	if r == nil {
		return nil
	}
	return r.all
}

func (r *routeInformers) start(stop <-chan struct{}) {
	if r == nil {
		return
	}
	for _, f := range r.factories {
		f.Start(stop)
	}
}

// synced reports whether the route caches can be trusted (false without them).
func (r *routeInformers) synced() bool {
	if r == nil {
		return false
	}
	for _, inf := range r.all {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

// version is the resourceVersion of the cached HTTPRoute ns/name ("-" when absent).
func (r *routeInformers) version(ns, name string) string {
	l, ok := lister(r.http, ns)
	if !ok {
		return "-"
	}
	route, err := l.HTTPRoutes(ns).Get(name)
	if err != nil {
		return "-"
	}
	return "v" + route.ResourceVersion
}

// addRouteHandler enqueues, on every event of a route, the Deployments that
// name it.
func (i *Informers) addRouteHandler(enqueue func(key string)) error {
	users := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		route, ok := obj.(*gwv1.HTTPRoute)
		if !ok {
			return
		}
		idx, ok := lister(i.deployments, route.Namespace)
		if !ok {
			return
		}
		objs, err := idx.ByIndex(byRoute, routeKey(route.Namespace, route.Name))
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
	for _, inf := range i.routes.informers() {
		if _, err := inf.AddEventHandler(h); err != nil {
			return err
		}
	}
	return nil
}

// slimRoute keeps a route's identity and resourceVersion: a reconcile reads the
// version to know whether the router must compare the route again, and the
// router reads the route itself then.
func slimRoute(obj any) (any, error) {
	r, ok := obj.(*gwv1.HTTPRoute)
	if !ok {
		return obj, nil
	}
	return &gwv1.HTTPRoute{ObjectMeta: slimMeta(r.ObjectMeta)}, nil
}
