package sim

// RouteStatus is how one entry Service's traffic is routed and where it
// went, as /debug/routes shows it. Pods and workloads are keyed by
// "namespace/name".
type RouteStatus struct {
	Router         string `json:"router"`
	Ingress        string `json:"ingress,omitempty"`
	CanaryIngress  string `json:"canaryIngress,omitempty"`
	VirtualService string `json:"virtualService,omitempty"`
	HTTPRoute      string `json:"httpRoute,omitempty"`
	// ResponseHeaders are the headers each backend's responses get from the
	// Gateway, by Service name (router gateway).
	ResponseHeaders map[string][]string `json:"responseHeaders,omitempty"`
	RPS             float64             `json:"rps"`
	PodShare        map[string]float64  `json:"podShare"`      // expected share of user requests now
	WorkloadShare   map[string]float64  `json:"workloadShare"` // the same, summed per workload
	MirrorShare     map[string]float64  `json:"mirrorShare,omitempty"`
	Requests        int64               `json:"requests"`    // user requests since start
	Unavailable     int64               `json:"unavailable"` // answered 503/404 without reaching a pod
	Served          map[string]int64    `json:"served"`      // user requests per pod since start
	Mirrored        map[string]int64    `json:"mirrored,omitempty"`

	plan Plan
}

func newRouteStatus() *RouteStatus {
	return &RouteStatus{Served: map[string]int64{}, Mirrored: map[string]int64{}}
}

// Routes returns a snapshot of every entry Service's route status, keyed by
// "namespace/name".
func (e *Engine) Routes() map[string]RouteStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]RouteStatus, len(e.routes))
	for key, st := range e.routes {
		out[key] = st.snapshot()
	}
	return out
}

func (st *RouteStatus) snapshot() RouteStatus {
	p := st.plan
	out := RouteStatus{
		Router:      p.Router,
		RPS:         p.Entry.Traffic.RPS,
		Requests:    st.Requests,
		Unavailable: st.Unavailable,
		Served:      copyCounts(st.Served),
		Mirrored:    copyCounts(st.Mirrored),
	}
	if p.Nginx.Main != nil {
		out.Ingress = p.Nginx.Main.Namespace + "/" + p.Nginx.Main.Name
	}
	if p.Nginx.Canary != nil {
		out.CanaryIngress = p.Nginx.Canary.Namespace + "/" + p.Nginx.Canary.Name
	}
	if p.Virtual != nil {
		out.VirtualService = p.Virtual.Namespace + "/" + p.Virtual.Name
	}
	if p.Route != nil {
		out.HTTPRoute = p.Route.Namespace + "/" + p.Route.Name
		out.ResponseHeaders = responseHeadersOf(p)
	}
	out.PodShare, out.MirrorShare = p.PodShares()
	out.WorkloadShare = map[string]float64{}
	for _, c := range p.Classes {
		for _, b := range c.Backends {
			for _, pod := range b.Pods {
				out.WorkloadShare[pod.Namespace+"/"+pod.Workload] += c.Class.Share * b.Share / float64(len(b.Pods))
			}
		}
	}
	return out
}

func copyCounts(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func responseHeadersOf(p Plan) map[string][]string {
	out := map[string][]string{}
	for _, c := range p.Classes {
		for _, b := range c.Backends {
			if len(b.ResponseHeaders) > 0 && b.Service != nil {
				out[b.Service.Name] = b.ResponseHeaders
			}
		}
	}
	return out
}
