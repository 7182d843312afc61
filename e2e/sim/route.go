package sim

import gwv1 "sigs.k8s.io/gateway-api/apis/v1"

// Router names, as /debug/routes reports them.
const (
	RouterNginx   = "nginx"
	RouterIstio   = "istio"
	RouterService = "service"
)

// World is the cluster state routing reads. Lists are sorted by name so that a
// run with the same seed and objects replays.
type World interface {
	// Service returns the Service or nil when it does not exist.
	Service(namespace, name string) *Service
	// ReadyPods returns the namespace's serving pods that carry every label of
	// the selector; an empty selector selects nothing.
	ReadyPods(namespace string, selector map[string]string) []*Pod
	Ingresses(namespace string) []*Ingress
	VirtualServices(namespace string) []*VirtualService
	DestinationRules(namespace string) []*DestinationRule
	// HTTPRoutes lists the namespace's Gateway API HTTPRoutes; Gateway returns
	// one Gateway or nil.
	HTTPRoutes(namespace string) []*gwv1.HTTPRoute
	Gateway(namespace, name string) *gwv1.Gateway
}

// Backend is where a share of a class of requests goes: the ready pods of
// a Service (possibly narrowed to a subset). With no pods the proxy answers
// 503 and Flags says why, as Envoy's response flags do.
type Backend struct {
	Service *Service // nil when the destination names no existing Service
	Host    string   // the destination as written
	Subset  string
	Canary  string // ingress-nginx canary upstream, "" for the stable backend
	Pods    []*Pod
	Share   float64
	Flags   string // "-" when served, "NC" no cluster/subset, "UH" no healthy pod
	// ResponseHeaders are the headers a Gateway sets on this backend's
	// responses (backend-level ResponseHeaderModifier), "Name: value".
	ResponseHeaders []string
}

// ClassRoute is where one class of requests goes.
type ClassRoute struct {
	Class    Class
	Backends []Backend // shares add up to 1; none means 404 (no route matched)
	Mirror   *Backend  // Istio mirror; Share is the copied fraction
}

// Plan is how an entry Service's traffic is routed during one tick.
type Plan struct {
	Entry   *Service
	Router  string
	Nginx   NginxRoute      // router nginx
	Virtual *VirtualService // router istio
	Route   *gwv1.HTTPRoute // router gateway
	Classes []ClassRoute
}

// BuildPlan routes an entry Service's request classes the way the cluster's
// objects say: an Ingress with the Service as backend first, else a
// VirtualService listing it, else an HTTPRoute a sim Gateway accepted that
// sends to it, else the Service itself.
func BuildPlan(w World, svc *Service) Plan {
	return newPlanner(w).plan(svc)
}

// planner builds the plans of one tick, indexing each namespace's Ingresses
// and VirtualServices once rather than once per Service.
type planner struct {
	w       World
	nginx   map[string]map[string]NginxRoute // namespace → Service → route
	virtual map[string]map[string]*VirtualService
}

func newPlanner(w World) *planner {
	return &planner{w: w, nginx: map[string]map[string]NginxRoute{}, virtual: map[string]map[string]*VirtualService{}}
}

func (pl *planner) plan(svc *Service) Plan {
	w := pl.w
	p := Plan{Entry: svc, Router: RouterService}
	classes := svc.Traffic.Classes()
	if r, ok := pl.nginxRoute(svc); ok {
		p.Router, p.Nginx = RouterNginx, r
		p.Classes = nginxClasses(w, svc, r, classes)
		return p
	}
	if vs := pl.virtualService(svc); vs != nil {
		p.Router, p.Virtual = RouterIstio, vs
		p.Classes = istioClasses(w, vs, classes)
		return p
	}
	if r := gatewayRouteFor(w, svc); r != nil {
		p.Router, p.Route = RouterGateway, r
		p.Classes = gatewayClasses(w, r, classes)
		return p
	}
	stable := serviceBackend(w, svc, svc.Name, "")
	stable.Share = 1
	for _, c := range classes {
		p.Classes = append(p.Classes, ClassRoute{Class: c, Backends: []Backend{stable}})
	}
	return p
}

func (pl *planner) nginxRoute(svc *Service) (NginxRoute, bool) {
	routes, ok := pl.nginx[svc.Namespace]
	if !ok {
		routes = NginxRoutes(pl.w.Ingresses(svc.Namespace))
		pl.nginx[svc.Namespace] = routes
	}
	r, ok := routes[svc.Name]
	return r, ok
}

// virtualService returns the first VirtualService (by name) listing the Service.
func (pl *planner) virtualService(svc *Service) *VirtualService {
	byService, ok := pl.virtual[svc.Namespace]
	if !ok {
		byService = map[string]*VirtualService{}
		for _, vs := range pl.w.VirtualServices(svc.Namespace) {
			if vs.DeletionTimestamp != nil {
				continue
			}
			for _, h := range vs.Hosts {
				if ns, name := ResolveHost(h, vs.Namespace); ns == svc.Namespace && byService[name] == nil {
					byService[name] = vs
				}
			}
		}
		pl.virtual[svc.Namespace] = byService
	}
	return byService[svc.Name]
}

func nginxClasses(w World, svc *Service, r NginxRoute, classes []Class) []ClassRoute {
	stable := serviceBackend(w, w.Service(svc.Namespace, r.Path.Service), r.Path.Service, "")
	var canary Backend
	if r.Canary != nil {
		canary = serviceBackend(w, w.Service(svc.Namespace, r.CanaryPath.Service), r.CanaryPath.Service, "")
		canary.Canary = r.CanaryUpstream()
	}
	out := make([]ClassRoute, 0, len(classes))
	for _, c := range classes {
		share := r.CanaryShare(c.Request)
		s, k := stable, canary
		s.Share, k.Share = 1-share, share
		cr := ClassRoute{Class: c, Backends: []Backend{s}}
		if share > 0 {
			cr.Backends = append(cr.Backends, k)
		}
		out = append(out, cr)
	}
	return out
}

func istioClasses(w World, vs *VirtualService, classes []Class) []ClassRoute {
	out := make([]ClassRoute, 0, len(classes))
	for _, c := range classes {
		cr := ClassRoute{Class: c}
		if route := vs.RouteFor(c.Request); route != nil {
			weights := route.Weights()
			for i, d := range route.Route {
				b := istioBackend(w, vs.Namespace, d)
				b.Share = weights[i]
				cr.Backends = append(cr.Backends, b)
			}
			if route.Mirror != nil && route.MirrorPercent > 0 {
				m := istioBackend(w, vs.Namespace, *route.Mirror)
				m.Share = route.MirrorPercent / 100
				cr.Mirror = &m
			}
		}
		out = append(out, cr)
	}
	return out
}

// istioBackend resolves a destination: its Service's ready pods, narrowed by
// the subset's labels from the DestinationRule for that host.
func istioBackend(w World, namespace string, d Destination) Backend {
	ns, name := ResolveHost(d.Host, namespace)
	svc := w.Service(ns, name)
	b := Backend{Service: svc, Host: d.Host, Subset: d.Subset, Flags: "NC"}
	if svc == nil {
		return b
	}
	selector := svc.Selector
	if d.Subset != "" {
		labels, ok := findSubset(w, namespace, svc, d.Subset)
		if !ok {
			return b
		}
		selector = mergeLabels(svc.Selector, labels)
	}
	b.Pods = w.ReadyPods(ns, selector)
	b.Flags = flagsFor(b.Pods)
	return b
}

func findSubset(w World, namespace string, svc *Service, subset string) (map[string]string, bool) {
	for _, ns := range uniq(svc.Namespace, namespace) {
		for _, dr := range w.DestinationRules(ns) {
			if drNS, drName := ResolveHost(dr.Host, dr.Namespace); drNS != svc.Namespace || drName != svc.Name {
				continue
			}
			if labels, ok := dr.Subsets[subset]; ok {
				return labels, true
			}
		}
	}
	return nil, false
}

func serviceBackend(w World, svc *Service, host, subset string) Backend {
	b := Backend{Service: svc, Host: host, Subset: subset, Flags: "NC"}
	if svc != nil {
		b.Pods = w.ReadyPods(svc.Namespace, svc.Selector)
		b.Flags = flagsFor(b.Pods)
	}
	return b
}

func flagsFor(pods []*Pod) string {
	if len(pods) == 0 {
		return "UH"
	}
	return "-"
}

func mergeLabels(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// PodShares is the expected share of the entry's user-facing requests each
// pod receives (pods keyed by "namespace/name"), and the mirrored share.
func (p Plan) PodShares() (served, mirrored map[string]float64) {
	served, mirrored = map[string]float64{}, map[string]float64{}
	for _, c := range p.Classes {
		for _, b := range c.Backends {
			addShares(served, b.Pods, c.Class.Share*b.Share)
		}
		if c.Mirror != nil {
			addShares(mirrored, c.Mirror.Pods, c.Class.Share*c.Mirror.Share)
		}
	}
	return served, mirrored
}

func addShares(into map[string]float64, pods []*Pod, share float64) {
	if share <= 0 {
		return
	}
	for _, pod := range pods {
		into[pod.Namespace+"/"+pod.Name] += share / float64(len(pods))
	}
}
