package sim

import (
	"math"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func unstructuredVS(ns, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
		"metadata": map[string]any{"namespace": ns, "name": name},
		"spec":     spec,
	}}
}

func dest(host, subset string, weight int64) map[string]any {
	d := map[string]any{"destination": map[string]any{"host": host, "subset": subset}}
	if weight > 0 {
		d["weight"] = weight
	}
	return d
}

// shopVS routes by header, then cookie, then header prefix, else by weight
// with a mirror — the shapes rolloutd writes.
func shopVS() *VirtualService {
	return NewVirtualService(unstructuredVS("shop", "web", map[string]any{
		"hosts": []any{"web"},
		"http": []any{
			map[string]any{"name": "by-header",
				"match": []any{map[string]any{"headers": map[string]any{"x-canary": map[string]any{"exact": "always"}}}},
				"route": []any{dest("web-canary", "", 0)}},
			map[string]any{"name": "by-cookie",
				"match": []any{map[string]any{"headers": map[string]any{"cookie": map[string]any{"regex": "^(.*?;)?(canary=always)(;.*)?$"}}}},
				"route": []any{dest("web-canary", "", 0)}},
			map[string]any{"name": "by-prefix",
				"match": []any{
					map[string]any{"headers": map[string]any{"x-user": map[string]any{"prefix": "be"}}},
					map[string]any{"headers": map[string]any{"x-user": map[string]any{"exact": "gamma"}}},
				},
				"route": []any{dest("web.shop.svc.cluster.local", "v2", 0)}},
			map[string]any{"name": "primary",
				"route":            []any{dest("web", "", 90), dest("web-canary.shop", "", 10)},
				"mirror":           map[string]any{"host": "web-canary"},
				"mirrorPercentage": map[string]any{"value": 25.0}},
		},
	}))
}

func TestIstioRoutesAreEvaluatedInOrder(t *testing.T) {
	vs := shopVS()
	if len(vs.Problems) != 0 {
		t.Fatalf("problems: %q", vs.Problems)
	}
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"exact header matches the first route", Request{Header: "x-canary", HeaderValue: "always"}, "by-header"},
		{"header and cookie: the earlier route wins", Request{Header: "x-canary", HeaderValue: "always", Cookie: "canary", CookieValue: "always"}, "by-header"},
		{"exact header is not a prefix match", Request{Header: "x-canary", HeaderValue: "always-not"}, "primary"},
		{"cookie regex matches the cookie header", Request{Cookie: "canary", CookieValue: "always"}, "by-cookie"},
		{"cookie regex must match the whole value", Request{Cookie: "canary", CookieValue: "alwaysx"}, "primary"},
		{"header prefix matches", Request{Header: "x-user", HeaderValue: "beta"}, "by-prefix"},
		{"any of several match blocks matches", Request{Header: "x-user", HeaderValue: "gamma"}, "by-prefix"},
		{"no header falls to the catch-all", Request{}, "primary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := vs.RouteFor(tt.req)
			if r == nil || r.Name != tt.want {
				t.Errorf("RouteFor(%+v) = %+v, want route %q", tt.req, r, tt.want)
			}
		})
	}
	noCatchAll := &VirtualService{HTTP: vs.HTTP[:1]}
	if r := noCatchAll.RouteFor(Request{}); r != nil {
		t.Errorf("unmatched request got route %q, want none (404)", r.Name)
	}
}

func TestIstioRouteWeights(t *testing.T) {
	tests := []struct {
		name  string
		route HTTPRoute
		want  []float64
	}{
		{"single destination without weight gets everything", HTTPRoute{Route: []Destination{{Host: "web"}}}, []float64{1}},
		{"weights adding to 100", HTTPRoute{Route: []Destination{{Host: "web", Weight: 90}, {Host: "web-canary", Weight: 10}}}, []float64{0.9, 0.1}},
		{"zero weight gets nothing", HTTPRoute{Route: []Destination{{Host: "web", Weight: 100}, {Host: "web-canary"}}}, []float64{1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.route.Weights()
			for i := range tt.want {
				if math.Abs(got[i]-tt.want[i]) > 1e-12 {
					t.Fatalf("Weights() = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestResolveHostForms(t *testing.T) {
	tests := []struct{ host, ns, wantNS, wantName string }{
		{"web", "shop", "shop", "web"},
		{"web.other", "shop", "other", "web"},
		{"web.other.svc", "shop", "other", "web"},
		{"web.other.svc.cluster.local", "shop", "other", "web"},
		{"example.com.x.y", "shop", "", "example.com.x.y"},
	}
	for _, tt := range tests {
		if ns, name := ResolveHost(tt.host, tt.ns); ns != tt.wantNS || name != tt.wantName {
			t.Errorf("ResolveHost(%q, %q) = %s/%s, want %s/%s", tt.host, tt.ns, ns, name, tt.wantNS, tt.wantName)
		}
	}
	vs := &VirtualService{Hosts: []string{"web.shop.svc.cluster.local"}}
	vs.Namespace = "shop"
	if !vs.ListsService("shop", "web") || vs.ListsService("shop", "web-canary") {
		t.Error("ListsService does not follow the FQDN host")
	}
}

func istioCluster(vs *VirtualService) *fakeCluster {
	b := DefaultBehaviour()
	app := map[string]string{"app": "web"}
	return &fakeCluster{
		services: []*Service{
			testService("shop", "web", app, Traffic{RPS: 1000}),
			managed(testService("shop", "web-canary", map[string]string{"app": "web-canary"}, Traffic{RPS: 1000})),
		},
		pods: []*Pod{
			testPod("shop", "web-5d8f-aaaaa", "web", map[string]string{"app": "web", "version": "v1"}, b),
			testPod("shop", "web-5d8f-bbbbb", "web", map[string]string{"app": "web", "version": "v2"}, b),
			testPod("shop", "web-canary-6c9-ccccc", "web-canary", map[string]string{"app": "web-canary"}, b),
		},
		vss: []*VirtualService{vs},
		drs: []*DestinationRule{{ObjectMeta: objMeta("shop", "web", nil), Host: "web",
			Subsets: map[string]map[string]string{"v1": {"version": "v1"}, "v2": {"version": "v2"}}}},
	}
}

func TestIstioSubsetNarrowsToTheSubsetLabels(t *testing.T) {
	c := istioCluster(shopVS())
	c.services[0].Traffic.Headers = []Share{{Name: "x-user", Value: "beta", Share: 1}}
	p := BuildPlan(c, c.services[0])
	if p.Router != RouterIstio || len(p.Classes) != 1 {
		t.Fatalf("plan = %+v", p)
	}
	b := p.Classes[0].Backends
	if len(b) != 1 || len(b[0].Pods) != 1 || b[0].Pods[0].Name != "web-5d8f-bbbbb" || b[0].Flags != "-" {
		t.Errorf("backends = %+v, want only the v2 pod", b)
	}
	vs := shopVS()
	vs.HTTP[2].Route[0].Subset = "missing"
	c = istioCluster(vs)
	c.services[0].Traffic.Headers = []Share{{Name: "x-user", Value: "beta", Share: 1}}
	if b := BuildPlan(c, c.services[0]).Classes[0].Backends[0]; len(b.Pods) != 0 || b.Flags != "NC" {
		t.Errorf("unknown subset: backend %+v, want no pods and NC", b)
	}
}

func TestIstioMirrorIsSeenOnlyByTheDestinationReporter(t *testing.T) {
	vs := &VirtualService{ObjectMeta: objMeta("shop", "web", nil), Hosts: []string{"web"}, HTTP: []HTTPRoute{{
		Name: "primary", Route: []Destination{{Host: "web"}},
		Mirror: &Destination{Host: "web-canary"}, MirrorPercent: 50,
	}}}
	c := istioCluster(vs)
	m := NewMetrics()
	e := NewEngine(7, m)
	steps(e, c, 10)

	canary := map[string]string{"destination_workload": "web-canary"}
	if n := total(t, m, "istio_requests_total", merge(canary, map[string]string{"reporter": "source"})); n != 0 {
		t.Errorf("source reporter saw %v mirrored requests, want 0", n)
	}
	stable := total(t, m, "istio_requests_total", map[string]string{"reporter": "source", "destination_workload": "web"})
	mirrored := total(t, m, "istio_requests_total", merge(canary, map[string]string{"reporter": "destination"}))
	if stable < 9000 || math.Abs(mirrored/stable-0.5) > 0.03 {
		t.Errorf("stable %v, mirrored %v: want about half mirrored", stable, mirrored)
	}
	st := e.Routes()["shop/web"]
	if st.Served["shop/web-canary-6c9-ccccc"] != 0 || st.Mirrored["shop/web-canary-6c9-ccccc"] != int64(mirrored) {
		t.Errorf("route status served %v mirrored %v", st.Served, st.Mirrored)
	}
	if got := st.MirrorShare["shop/web-canary-6c9-ccccc"]; got != 0.5 {
		t.Errorf("mirror share = %v, want 0.5", got)
	}
}

func TestIstioWeightsSplitUserTraffic(t *testing.T) {
	c := istioCluster(shopVS())
	m := NewMetrics()
	e := NewEngine(3, m)
	steps(e, c, 10)
	src := map[string]string{"reporter": "source", "destination_service_namespace": "shop"}
	all := total(t, m, "istio_requests_total", src)
	canary := total(t, m, "istio_requests_total", merge(src, map[string]string{"destination_service_name": "web-canary"}))
	if all < 9000 || math.Abs(canary/all-0.1) > 0.015 {
		t.Errorf("canary got %v of %v, want about 10%%", canary, all)
	}
	st := e.Routes()["shop/web"]
	if st.Router != RouterIstio || st.VirtualService != "shop/web" || math.Abs(st.WorkloadShare["shop/web-canary"]-0.1) > 1e-9 {
		t.Errorf("route status = %+v", st)
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
