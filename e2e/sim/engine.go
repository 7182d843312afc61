package sim

import (
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxSamples caps the latencies drawn per pod, status and tick; beyond it each
// drawn latency stands for several requests.
const maxSamples = 256

// unavailableLatency is how long a proxy takes to answer 503 or 404 itself.
const unavailableLatency = 0.001

// Cluster is what a tick reads: the routing view plus the full lists.
type Cluster interface {
	World
	// Services returns every Service, sorted by namespace and name.
	Services() []*Service
	// Pods returns every pod, sorted by namespace and name.
	Pods() []*Pod
	// Ingress returns the Ingress or nil when it does not exist.
	Ingress(namespace, name string) *Ingress
}

// Engine generates the simulated traffic and resources tick by tick. Step
// must be called from one goroutine; Routes may be called concurrently.
type Engine struct {
	rng     *rand.Rand
	metrics *Metrics

	started atomic.Bool

	mu     sync.Mutex
	routes map[string]*RouteStatus // by "namespace/name" of the entry Service
	// served counts the requests each pod answered this tick (mirrored copies
	// included: they cost the pod as much), for the per-request CPU and load.
	served map[string]int // by "namespace/name"
}

// Started reports whether the engine completed a step.
func (e *Engine) Started() bool { return e.started.Load() }

// NewEngine returns an engine drawing from one source seeded with seed and
// recording into m.
func NewEngine(seed int64, m *Metrics) *Engine {
	return &Engine{rng: NewRand(seed), metrics: m, routes: map[string]*RouteStatus{}, served: map[string]int{}}
}

// Step advances the simulation by dt: resource usage for every running pod,
// a tick of requests for every entry Service, then removal of the series and
// route statuses of objects that are gone.
func (e *Engine) Step(c Cluster, now time.Time, dt time.Duration) {
	pods := c.Pods()
	e.mu.Lock()
	e.served = map[string]int{}
	next := make(map[string]*RouteStatus, len(e.routes))
	pl := newPlanner(c)
	for _, svc := range c.Services() {
		if !svc.IsEntry() {
			continue
		}
		key := svc.Namespace + "/" + svc.Name
		st := e.routes[key]
		if st == nil {
			st = newRouteStatus()
		}
		st.plan = pl.plan(svc)
		e.drive(st, poisson(e.rng, svc.Traffic.RPS*dt.Seconds()))
		next[key] = st
	}
	e.routes = next
	e.tickContainers(pods, now, dt)
	e.mu.Unlock()
	e.sweep(c, pods)
	e.started.Store(true)
}

func (e *Engine) tickContainers(pods []*Pod, now time.Time, dt time.Duration) {
	for _, p := range pods {
		if !p.Running {
			continue
		}
		b := p.Behaviour
		n := float64(e.served[p.Namespace+"/"+p.Name])
		cpu := noisy(e.rng, b.CPU*dt.Seconds()+b.CPUPerRequest*n, cpuNoise)
		mem := noisy(e.rng, b.MemoryAt(now.Sub(p.Started).Minutes()), memoryNoise)
		load := noisy(e.rng, b.Load+b.LoadPerRequest*n/dt.Seconds(), loadNoise)
		e.metrics.recordContainer(p, cpu, mem, load)
	}
}

// drive sends n user requests along the plan: split over request classes,
// then over each class's backends, then evenly over a backend's pods.
func (e *Engine) drive(st *RouteStatus, n int) {
	p := st.plan
	st.Requests += int64(n)
	shares := make([]float64, len(p.Classes))
	for i, c := range p.Classes {
		shares[i] = c.Class.Share
	}
	for i, k := range multinomial(e.rng, n, shares) {
		cr := p.Classes[i]
		if k == 0 {
			continue
		}
		if len(cr.Backends) == 0 {
			e.unrouted(st, k)
			continue
		}
		bs := make([]float64, len(cr.Backends))
		for j, b := range cr.Backends {
			bs[j] = b.Share
		}
		for j, kb := range multinomial(e.rng, k, bs) {
			e.toBackend(st, cr.Backends[j], kb, false)
		}
		if cr.Mirror != nil {
			e.toBackend(st, *cr.Mirror, binomial(e.rng, k, cr.Mirror.Share), true)
		}
	}
}

// unrouted answers requests no Istio or Gateway API route matched with 404.
func (e *Engine) unrouted(st *RouteStatus, n int) {
	st.Unavailable += int64(n)
	entry := st.plan.Entry
	if st.plan.Router != RouterIstio {
		return
	}
	e.metrics.recordIstio(reporterSource, entry,
		istioTarget{service: entry, flags: "NR"}, unavailable(404, n))
}

// toBackend spreads n requests over a backend's pods; a backend without pods
// answers 503 itself. Mirrored copies are seen only by the pods they reach.
func (e *Engine) toBackend(st *RouteStatus, b Backend, n int, mirror bool) {
	if n == 0 {
		return
	}
	if len(b.Pods) == 0 {
		if !mirror {
			st.Unavailable += int64(n)
			e.recordEntry(st.plan, b, nil, unavailable(503, n))
		}
		return
	}
	for i, k := range spreadEven(e.rng, n, len(b.Pods)) {
		if k == 0 {
			continue
		}
		pod := b.Pods[i]
		res := e.serve(pod, k)
		e.metrics.recordApp(pod, res)
		key := pod.Namespace + "/" + pod.Name
		if mirror {
			st.Mirrored[key] += int64(k)
			if st.plan.Router == RouterIstio {
				e.metrics.recordIstio(reporterDestination, st.plan.Entry, e.istioTarget(st.plan, b, pod), res)
			}
			continue
		}
		st.Served[key] += int64(k)
		e.recordEntry(st.plan, b, pod, res)
	}
}

// recordEntry counts user-facing requests on the metrics of the way in.
func (e *Engine) recordEntry(p Plan, b Backend, pod *Pod, res []result) {
	switch p.Router {
	case RouterNginx:
		e.metrics.recordNginx(p.Nginx, b.Canary != "", res)
	case RouterIstio:
		t := e.istioTarget(p, b, pod)
		e.metrics.recordIstio(reporterSource, p.Entry, t, res)
		if pod != nil {
			e.metrics.recordIstio(reporterDestination, p.Entry, t, res)
		}
	}
}

func (e *Engine) istioTarget(p Plan, b Backend, pod *Pod) istioTarget {
	ns, name := ResolveHost(b.Host, p.Virtual.Namespace)
	return istioTarget{service: b.Service, host: name, namespace: ns, pod: pod, flags: b.Flags}
}

// serve answers n requests at a pod: errors are a binomial draw, latencies
// are sampled from the pod's log-normal.
func (e *Engine) serve(pod *Pod, n int) []result {
	e.served[pod.Namespace+"/"+pod.Name] += n
	errs := binomial(e.rng, n, pod.Behaviour.ErrorRate)
	out := make([]result, 0, 2)
	if ok := n - errs; ok > 0 {
		out = append(out, result{code: 200, count: ok, latencies: e.latencies(pod.Behaviour, ok)})
	}
	if errs > 0 {
		out = append(out, result{code: 500, count: errs, latencies: e.latencies(pod.Behaviour, errs)})
	}
	return out
}

func (e *Engine) latencies(b Behaviour, n int) []sample {
	k := min(n, maxSamples)
	base, extra := n/k, n%k
	out := make([]sample, k)
	for i := range out {
		w := uint64(base)
		if i < extra {
			w++
		}
		out[i] = sample{seconds: b.SampleLatency(e.rng), weight: w}
	}
	return out
}

func unavailable(code, n int) []result {
	return []result{{code: code, count: n, latencies: []sample{{seconds: unavailableLatency, weight: uint64(n)}}}}
}

// sweep removes series and per-pod counts of objects that no longer exist.
func (e *Engine) sweep(c Cluster, pods []*Pod) {
	type key struct{ namespace, name string }
	podSet := make(map[key]bool, len(pods))
	workloads := map[key]bool{}
	for _, p := range pods {
		podSet[key{p.Namespace, p.Name}] = true
		workloads[key{p.Namespace, p.Workload}] = true
	}
	e.metrics.Sweep(func(d dep) bool {
		switch d.kind {
		case depPod:
			return podSet[key{d.namespace, d.name}]
		case depWorkload:
			return workloads[key{d.namespace, d.name}]
		case depService:
			return c.Service(d.namespace, d.name) != nil
		default:
			return c.Ingress(d.namespace, d.name) != nil
		}
	})
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, st := range e.routes {
		for _, m := range []map[string]int64{st.Served, st.Mirrored} {
			for k := range m {
				ns, name, _ := strings.Cut(k, "/")
				if !podSet[key{ns, name}] {
					delete(m, k)
				}
			}
		}
	}
}
