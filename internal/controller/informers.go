package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Informers watches Deployments, ReplicaSets, Services and Ingresses in the
// configured namespaces (all when none are given), so a reconcile reads only caches
// and calls the API only to write. Transforms keep the cache small: a Deployment
// without any rolloutd.io annotation keeps only its identity, ReplicaSets keep their
// template's revision hash instead of the template, Services their selector and
// ports, Ingresses only their identity.
type Informers struct {
	factories   []informers.SharedInformerFactory
	deployments map[string]cache.Indexer // "" = all namespaces
	sets        map[string]cache.Indexer // indexed by controller UID
	services    map[string]corelisters.ServiceLister
	ingresses   map[string]networkinglisters.IngressLister
	synced      []cache.InformerSynced
	handlers    []cache.SharedIndexInformer
	rsInformers []cache.SharedIndexInformer
	// generated are the informers of objects rolloutd generates beside the canary
	// Deployment (Services, Ingresses, and Istio's objects when watched): their
	// events enqueue the Deployment they belong to, so drift is repaired at once.
	generated []cache.SharedIndexInformer
	mesh      *meshInformers
	routes    *routeInformers
	// onStripped is told of the last full form of a Deployment whose rolloutd.io
	// annotations were all removed at once.
	onStripped func(old *appsv1.Deployment)
}

// managed reports whether a cached object is a Deployment with rolloutd.io
// annotations.
func managed(obj any) bool {
	d, ok := obj.(*appsv1.Deployment)
	return ok && hasRolloutdAnnotations(d)
}

// NewInformers builds informers for namespaces (nil or empty: all namespaces).
func NewInformers(kube kubernetes.Interface, namespaces []string, resync time.Duration) (*Informers, error) {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	inf := &Informers{
		deployments: map[string]cache.Indexer{},
		sets:        map[string]cache.Indexer{},
		services:    map[string]corelisters.ServiceLister{},
		ingresses:   map[string]networkinglisters.IngressLister{},
	}
	for _, ns := range namespaces {
		f := informers.NewSharedInformerFactoryWithOptions(kube, resync, informers.WithNamespace(ns))
		d := f.Apps().V1().Deployments()
		rs := f.Apps().V1().ReplicaSets()
		if err := d.Informer().SetTransform(slimDeployment); err != nil {
			return nil, fmt.Errorf("informers: deployment transform: %w", err)
		}
		if err := rs.Informer().SetTransform(workload.SlimReplicaSet); err != nil {
			return nil, fmt.Errorf("informers: replicaset transform: %w", err)
		}
		if err := d.Informer().AddIndexers(cache.Indexers{byRoute: routeOf}); err != nil {
			return nil, fmt.Errorf("informers: deployment index: %w", err)
		}
		if err := rs.Informer().AddIndexers(cache.Indexers{byController: controllerUID}); err != nil {
			return nil, fmt.Errorf("informers: replicaset index: %w", err)
		}
		svc := f.Core().V1().Services()
		ing := f.Networking().V1().Ingresses()
		if err := svc.Informer().SetTransform(slimService); err != nil {
			return nil, fmt.Errorf("informers: service transform: %w", err)
		}
		if err := ing.Informer().SetTransform(slimIngress); err != nil {
			return nil, fmt.Errorf("informers: ingress transform: %w", err)
		}
		inf.factories = append(inf.factories, f)
		inf.deployments[ns] = d.Informer().GetIndexer()
		inf.sets[ns] = rs.Informer().GetIndexer()
		inf.services[ns] = svc.Lister()
		inf.ingresses[ns] = ing.Lister()
		inf.synced = append(inf.synced, d.Informer().HasSynced, rs.Informer().HasSynced,
			svc.Informer().HasSynced, ing.Informer().HasSynced)
		inf.handlers = append(inf.handlers, d.Informer())
		inf.rsInformers = append(inf.rsInformers, rs.Informer())
		inf.generated = append(inf.generated, svc.Informer(), ing.Informer())
	}
	return inf, nil
}

// AddHandlers routes Deployment and ReplicaSet events to the given enqueue funcs.
func (i *Informers) AddHandlers(onDeployment, onReplicaSet func(any)) error {
	for _, h := range i.handlers {
		if _, err := h.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: onDeployment,
			UpdateFunc: func(old, obj any) {
				// Every rolloutd.io annotation removed at once: the new object may be a
				// stub the handler ignores; the old one names the Deployment and
				// holds its last status.
				if o, ok := old.(*appsv1.Deployment); ok && hasRolloutdAnnotations(o) && !managed(obj) {
					if i.onStripped != nil {
						i.onStripped(o)
					}
					onDeployment(old)
				}
				onDeployment(obj)
			},
			DeleteFunc: onDeployment,
		}); err != nil {
			return err
		}
	}
	for _, h := range i.rsInformers {
		if _, err := h.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    onReplicaSet,
			UpdateFunc: func(_, obj any) { onReplicaSet(obj) },
			DeleteFunc: onReplicaSet,
		}); err != nil {
			return err
		}
	}
	return nil
}

// Start starts every informer; WaitForSync blocks until their caches are filled.
func (i *Informers) Start(ctx context.Context) {
	for _, f := range i.factories {
		f.Start(ctx.Done())
	}
	i.mesh.group().start(ctx.Done())
	i.routes.group().start(ctx.Done())
}

// WaitForSync waits for the caches; false if ctx ended first.
func (i *Informers) WaitForSync(ctx context.Context) bool {
	synced := i.synced
	for _, inf := range append(i.mesh.group().informers(), i.routes.group().informers()...) {
		synced = append(synced, inf.HasSynced)
	}
	return cache.WaitForCacheSync(ctx.Done(), synced...)
}

// HasSynced reports whether every cache is filled (for /readyz).
func (i *Informers) HasSynced() bool {
	for _, s := range i.synced {
		if !s() {
			return false
		}
	}
	return true
}

// Deployment returns a cached Deployment (read-only: DeepCopy before changing it).
// A Deployment rolloutd does not manage comes back with its identity only.
func (i *Informers) Deployment(ns, name string) (*appsv1.Deployment, error) {
	notFound := apierrors.NewNotFound(appsv1.Resource("deployments"), name)
	idx, ok := lister(i.deployments, ns)
	if !ok {
		return nil, notFound
	}
	obj, exists, err := idx.GetByKey(ns + "/" + name)
	switch {
	case err != nil:
		return nil, err
	case !exists:
		return nil, notFound
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o, nil
	case *metav1.PartialObjectMetadata:
		return &appsv1.Deployment{ObjectMeta: o.ObjectMeta}, nil
	}
	return nil, fmt.Errorf("informers: unexpected %T cached for deployment %s/%s", obj, ns, name)
}

// byController indexes ReplicaSets by the UID of the Deployment controlling them,
// so a reconcile reads its own few instead of scanning the namespace's.
const byController = "controller"

func controllerUID(obj any) ([]string, error) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOf(rs); ref != nil {
		return []string{string(ref.UID)}, nil
	}
	return nil, nil
}

// ReplicaSetsOf lists the cached (slimmed) ReplicaSets that d controls.
func (i *Informers) ReplicaSetsOf(d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	idx, ok := lister(i.sets, d.Namespace)
	if !ok {
		return nil, nil
	}
	objs, err := idx.ByIndex(byController, string(d.UID))
	if err != nil {
		return nil, err
	}
	out := make([]*appsv1.ReplicaSet, 0, len(objs))
	for _, o := range objs {
		if rs, ok := o.(*appsv1.ReplicaSet); ok && rs.Namespace == d.Namespace {
			out = append(out, rs)
		}
	}
	return out, nil
}

// Service returns a cached Service: identity, selector and ports only.
func (i *Informers) Service(ns, name string) (*corev1.Service, error) {
	l, ok := lister(i.services, ns)
	if !ok {
		return nil, apierrors.NewNotFound(corev1.Resource("services"), name)
	}
	return l.Services(ns).Get(name)
}

// Ingress returns a cached Ingress: identity and the Services it sends to.
func (i *Informers) Ingress(ns, name string) (*networkingv1.Ingress, error) {
	l, ok := lister(i.ingresses, ns)
	if !ok {
		return nil, apierrors.NewNotFound(networkingv1.Resource("ingresses"), name)
	}
	return l.Ingresses(ns).Get(name)
}

// ingressVersion is the resourceVersion of the cached Ingress ns/name ("-" when
// absent).
func (i *Informers) ingressVersion(ns, name string) string {
	l, ok := lister(i.ingresses, ns)
	if !ok {
		return "-"
	}
	ing, err := l.Ingresses(ns).Get(name)
	if err != nil {
		return "-"
	}
	return "v" + ing.ResourceVersion
}

// generatedIngresses names the cached Ingresses generated for Deployment ns/owner.
func (i *Informers) generatedIngresses(ns, owner string) []string {
	l, ok := lister(i.ingresses, ns)
	if !ok {
		return nil
	}
	sel := labels.SelectorFromSet(labels.Set{contract.ManagedByLabel: contract.ManagedByValue, contract.CanaryOfLabel: owner})
	list, err := l.Ingresses(ns).List(sel)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, ing := range list {
		out = append(out, ing.Name)
	}
	return out
}

// lister picks the all-namespaces lister when there is one, else the namespace's.
func lister[L any](m map[string]L, ns string) (L, bool) {
	if l, ok := m[metav1.NamespaceAll]; ok {
		return l, true
	}
	l, ok := m[ns]
	return l, ok
}

// hasRolloutdAnnotations reports whether any rolloutd.io annotation is present:
// opted in, opting out (status left to clean up), or configured but disabled.
func hasRolloutdAnnotations(d *appsv1.Deployment) bool {
	for k := range d.Annotations {
		if strings.HasPrefix(k, contract.Prefix) {
			return true
		}
	}
	return false
}

// slimDeployment keeps full objects only for Deployments rolloutd cares about and
// for canary copies; the rest are cached as their identity alone, in a metadata
// object a third the size of an empty Deployment, so watching 10 000 Deployments
// stays cheap. Event handlers ignore those. Managed fields are dropped everywhere.
func slimDeployment(obj any) (any, error) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return obj, nil
	}
	if hasRolloutdAnnotations(d) || d.Labels[contract.CanaryOfLabel] != "" {
		d.ManagedFields = nil
		return d, nil
	}
	if d.Spec.Paused && pausedByRolloutd(d) {
		return leftPaused(d), nil
	}
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Name: d.Name, Namespace: d.Namespace, UID: d.UID, ResourceVersion: d.ResourceVersion,
	}}, nil
}

// slimService keeps what a canary Service copies and routing checks read, and
// the labels of a generated Service (which name its Deployment).
func slimService(obj any) (any, error) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	return &corev1.Service{
		ObjectMeta: slimMeta(s.ObjectMeta),
		Spec:       corev1.ServiceSpec{Selector: s.Spec.Selector, Ports: s.Spec.Ports},
	}, nil
}

// slimIngress keeps an Ingress's identity, resourceVersion and the names of the
// Services it sends to: routing checks ask whether it exists and sends to the
// Deployment's Service, and a reconcile reads the version to know whether the
// nginx router must compare it again; the router reads the Ingress itself then.
func slimIngress(obj any) (any, error) {
	ing, ok := obj.(*networkingv1.Ingress)
	if !ok {
		return obj, nil
	}
	out := &networkingv1.Ingress{ObjectMeta: slimMeta(ing.ObjectMeta)}
	keep := func(b *networkingv1.IngressBackend) *networkingv1.IngressBackend {
		if b == nil || b.Service == nil {
			return nil
		}
		return &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: b.Service.Name}}
	}
	out.Spec.DefaultBackend = keep(ing.Spec.DefaultBackend)
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		var paths []networkingv1.HTTPIngressPath
		for _, p := range rule.HTTP.Paths {
			if b := keep(&p.Backend); b != nil {
				paths = append(paths, networkingv1.HTTPIngressPath{Backend: *b})
			}
		}
		out.Spec.Rules = append(out.Spec.Rules, networkingv1.IngressRule{
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}})
	}
	return out, nil
}

// slimMeta keeps an object's identity, and its labels when rolloutd generated it.
func slimMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	out := metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion}
	if isGenerated(m.Labels) {
		out.Labels = m.Labels
	}
	return out
}
