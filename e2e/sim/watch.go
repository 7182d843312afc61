package sim

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
)

// Istio resources the simulator routes by.
var (
	virtualServicesGVR  = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
	destinationRulesGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}
)

const (
	indexLabel     = "label" // pods by "namespace/key=value"
	resyncNever    = 0
	istioRetryWait = 30 * time.Second
)

// Discoverer tells whether the API server serves a group version's
// resources; discovery.DiscoveryInterface implements it.
type Discoverer interface {
	ServerResourcesForGroupVersion(groupVersion string) (*metav1.APIResourceList, error)
}

// Clients are the API clients the watcher uses. Dynamic and Discovery may be
// nil: the simulator then routes without Istio.
type Clients struct {
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	Discovery Discoverer
	// Gateway may be nil: the simulator then routes without the Gateway API.
	Gateway gwclient.Interface
}

// Watcher keeps a small, transformed cache of the objects routing needs and
// implements Cluster over it.
type Watcher struct {
	clients  Clients
	log      *zap.Logger
	factory  informers.SharedInformerFactory
	pods     cache.SharedIndexInformer
	services cache.SharedIndexInformer
	ingress  cache.SharedIndexInformer
	warned   *warnings

	mu sync.RWMutex
	vs cache.SharedIndexInformer // nil until the Istio CRDs are found
	dr cache.SharedIndexInformer
	// routes and gateways are nil until the Gateway API CRDs are found.
	routes     cache.SharedIndexInformer
	grpcRoutes cache.SharedIndexInformer // nil where GRPCRoutes are not served
	gateways   cache.SharedIndexInformer
	retryEvery time.Duration
}

// NewWatcher sets up informers across all namespaces; Start runs them.
// istioRetry is how often to look for the Istio CRDs while they are absent
// (0 means every 30s).
func NewWatcher(c Clients, istioRetry time.Duration, log *zap.Logger) (*Watcher, error) {
	if istioRetry <= 0 {
		istioRetry = istioRetryWait
	}
	w := &Watcher{clients: c, log: log, warned: newWarnings(log), retryEvery: istioRetry}
	w.factory = informers.NewSharedInformerFactory(c.Kube, resyncNever)
	w.pods = w.factory.Core().V1().Pods().Informer()
	w.services = w.factory.Core().V1().Services().Informer()
	w.ingress = w.factory.Networking().V1().Ingresses().Informer()
	err := setup(w.pods, transformPod, cache.Indexers{indexLabel: podLabelIndex}, w.warned)
	if err == nil {
		err = setup(w.services, transformService, nil, w.warned)
	}
	if err == nil {
		err = setup(w.ingress, transformIngress, nil, w.warned)
	}
	if err != nil {
		return nil, fmt.Errorf("watch: set up informers: %w", err)
	}
	return w, nil
}

// setup installs the slimming transform, a namespace index plus extras, and
// the handler that logs each object's bad annotations once.
func setup(inf cache.SharedIndexInformer, t cache.TransformFunc, extra cache.Indexers, warned *warnings) error {
	if err := inf.SetTransform(t); err != nil {
		return fmt.Errorf("set transform: %w", err)
	}
	idx := cache.Indexers{}
	for k, v := range extra {
		idx[k] = v
	}
	if _, ok := inf.GetIndexer().GetIndexers()[cache.NamespaceIndex]; !ok {
		idx[cache.NamespaceIndex] = cache.MetaNamespaceIndexFunc
	}
	if err := inf.AddIndexers(idx); err != nil {
		return fmt.Errorf("add indexers: %w", err)
	}
	_, err := inf.AddEventHandler(warned.handler())
	if err != nil {
		return fmt.Errorf("add handler: %w", err)
	}
	return nil
}

// Start runs the informers and waits for their first sync; the Istio
// informers join once their CRDs are served, found by a periodic retry.
func (w *Watcher) Start(ctx context.Context) error {
	w.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), w.pods.HasSynced, w.services.HasSynced, w.ingress.HasSynced) {
		return fmt.Errorf("watch: caches did not sync: %w", context.Cause(ctx))
	}
	if w.clients.Dynamic == nil || w.clients.Discovery == nil {
		return nil
	}
	if !w.startIstio(ctx) {
		go w.retry(ctx, w.startIstio)
	}
	if !w.startGateway(ctx) {
		go w.retry(ctx, w.startGateway)
	}
	return nil
}

// retry calls start every retry period until it reports success.
func (w *Watcher) retry(ctx context.Context, start func(context.Context) bool) {
	everyTick(ctx, w.retryEvery, func() bool { return start(ctx) })
}

// everyTick calls f at the end of each period (never at once) until f reports
// that it is done or ctx ends.
func everyTick(ctx context.Context, period time.Duration, f func() (done bool)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if f() {
				return
			}
		}
	}
}

// startIstio starts the VirtualService and DestinationRule informers when the
// API server serves them, and reports whether it did.
func (w *Watcher) startIstio(ctx context.Context) bool {
	res, err := w.clients.Discovery.ServerResourcesForGroupVersion(virtualServicesGVR.GroupVersion().String())
	if err != nil || !hasResources(res.APIResources, virtualServicesGVR.Resource, destinationRulesGVR.Resource) {
		w.log.Debug("istio networking CRDs not served yet; routing without them", zap.Error(err))
		return false
	}
	f := dynamicinformer.NewDynamicSharedInformerFactory(w.clients.Dynamic, resyncNever)
	vs, dr := f.ForResource(virtualServicesGVR).Informer(), f.ForResource(destinationRulesGVR).Informer()
	for inf, t := range map[cache.SharedIndexInformer]cache.TransformFunc{vs: transformVirtualService, dr: transformDestinationRule} {
		if err := setup(inf, t, nil, w.warned); err != nil {
			w.log.Error("istio informers", zap.Error(err))
			return false
		}
	}
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), vs.HasSynced, dr.HasSynced) {
		return false
	}
	w.mu.Lock()
	w.vs, w.dr = vs, dr
	w.mu.Unlock()
	w.log.Info("watching istio VirtualServices and DestinationRules")
	return true
}

func hasResources(list []metav1.APIResource, names ...string) bool {
	found := 0
	for _, r := range list {
		for _, n := range names {
			if r.Name == n {
				found++
			}
		}
	}
	return found == len(names)
}

// transformPod and friends replace each object by its slim form; they accept
// an already slim object so that a replay through the transform is harmless.
var (
	transformPod             = slimmer(NewPod)
	transformService         = slimmer(NewService)
	transformIngress         = slimmer(NewIngress)
	transformVirtualService  = slimmer(NewVirtualService)
	transformDestinationRule = slimmer(NewDestinationRule)
)

// slimmer is the informer transform that replaces each T by slim(T) and
// passes anything else through.
func slimmer[T, S any](slim func(T) S) cache.TransformFunc {
	return func(obj any) (any, error) {
		if o, ok := obj.(T); ok {
			return slim(o), nil
		}
		return obj, nil
	}
}

func podLabelIndex(obj any) ([]string, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("label index: %w", err)
	}
	out := make([]string, 0, len(m.GetLabels()))
	for k, v := range m.GetLabels() {
		out = append(out, m.GetNamespace()+"/"+k+"="+v)
	}
	return out, nil
}

// Service implements World.
func (w *Watcher) Service(namespace, name string) *Service {
	return getAs[*Service](w.services, namespace, name)
}

// Ingress implements Cluster.
func (w *Watcher) Ingress(namespace, name string) *Ingress {
	return getAs[*Ingress](w.ingress, namespace, name)
}

// ReadyPods implements World, looking pods up through the rarest label of
// the selector.
func (w *Watcher) ReadyPods(namespace string, selector map[string]string) []*Pod {
	if len(selector) == 0 {
		return nil
	}
	var candidates []any
	for k, v := range selector {
		objs, err := w.pods.GetIndexer().ByIndex(indexLabel, namespace+"/"+k+"="+v)
		if err != nil {
			return nil
		}
		if candidates == nil || len(objs) < len(candidates) {
			candidates = objs
		}
		if len(candidates) == 0 {
			return nil
		}
	}
	var out []*Pod
	for _, o := range candidates {
		if p, ok := o.(*Pod); ok && p.Serving() && selects(selector, p.Labels) {
			out = append(out, p)
		}
	}
	sortByName(out)
	return out
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// Ingresses implements World.
func (w *Watcher) Ingresses(namespace string) []*Ingress {
	return listAs[*Ingress](w.ingress, namespace)
}

// VirtualServices implements World; empty while Istio is not served.
func (w *Watcher) VirtualServices(namespace string) []*VirtualService {
	w.mu.RLock()
	inf := w.vs
	w.mu.RUnlock()
	return listAs[*VirtualService](inf, namespace)
}

// DestinationRules implements World; empty while Istio is not served.
func (w *Watcher) DestinationRules(namespace string) []*DestinationRule {
	w.mu.RLock()
	inf := w.dr
	w.mu.RUnlock()
	return listAs[*DestinationRule](inf, namespace)
}

// Services implements Cluster.
func (w *Watcher) Services() []*Service { return listAs[*Service](w.services, "") }

// Pods implements Cluster.
func (w *Watcher) Pods() []*Pod { return listAs[*Pod](w.pods, "") }

func getAs[T any](inf cache.SharedIndexInformer, namespace, name string) T {
	var zero T
	obj, ok, err := inf.GetStore().GetByKey(namespace + "/" + name)
	if err != nil || !ok {
		return zero
	}
	t, _ := obj.(T)
	return t
}

// listAs lists one namespace (all for "") sorted by namespace and name.
func listAs[T interface {
	*Pod | *Service | *Ingress | *VirtualService | *DestinationRule | *gwv1.HTTPRoute | *gwv1.GRPCRoute | *gwv1.Gateway
	GetNamespace() string
	GetName() string
}](inf cache.SharedIndexInformer, namespace string) []T {
	if inf == nil {
		return nil
	}
	var objs []any
	if namespace == "" {
		objs = inf.GetStore().List()
	} else {
		objs, _ = inf.GetIndexer().ByIndex(cache.NamespaceIndex, namespace)
	}
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	sortByName(out)
	return out
}

func sortByName[T interface {
	GetNamespace() string
	GetName() string
}](list []T) {
	sort.Slice(list, func(i, j int) bool {
		if c := strings.Compare(list[i].GetNamespace(), list[j].GetNamespace()); c != 0 {
			return c < 0
		}
		return list[i].GetName() < list[j].GetName()
	})
}
