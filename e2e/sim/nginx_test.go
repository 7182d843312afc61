package sim

import (
	"regexp"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCanaryShareFollowsIngressNginxPrecedence(t *testing.T) {
	hdr := func(v string) Request { return Request{Header: "x-canary", HeaderValue: v} }
	cookie := func(v string) Request { return Request{Cookie: "canary", CookieValue: v} }
	both := func(h, c string) Request {
		return Request{Header: "x-canary", HeaderValue: h, Cookie: "canary", CookieValue: c}
	}
	byHeader := CanaryPolicy{Header: "X-Canary", Weight: 30, WeightTotal: 100}
	byHeader.Header = "x-canary"
	byValue := CanaryPolicy{Header: "x-canary", HeaderValue: "beta", Weight: 30, WeightTotal: 100}
	byPattern := CanaryPolicy{Header: "x-canary", HeaderPattern: regexp.MustCompile("^be.*"), Weight: 30, WeightTotal: 100}
	valueAndPattern := byPattern
	valueAndPattern.HeaderValue = "gamma"
	byCookie := CanaryPolicy{Cookie: "canary", Weight: 30, WeightTotal: 100}
	headerAndCookie := CanaryPolicy{Header: "x-canary", Cookie: "canary", Weight: 30, WeightTotal: 100}

	tests := []struct {
		name   string
		policy CanaryPolicy
		req    Request
		want   float64
	}{
		{"header always goes to canary", byHeader, hdr("always"), 1},
		{"header never stays on stable", byHeader, hdr("never"), 0},
		{"other header value falls through to weight", byHeader, hdr("maybe"), 0.3},
		{"no header falls through to weight", byHeader, Request{}, 0.3},
		{"header value exact match goes to canary", byValue, hdr("beta"), 1},
		{"header value mismatch falls through to weight", byValue, hdr("beta2"), 0.3},
		{"with a header value, always is just another value", byValue, hdr("always"), 0.3},
		{"with a header value, never does not force stable", byValue, hdr("never"), 0.3},
		{"header pattern match goes to canary", byPattern, hdr("beta-7"), 1},
		{"header pattern mismatch falls through", byPattern, hdr("alpha"), 0.3},
		{"header value wins over pattern", valueAndPattern, hdr("beta"), 0.3},
		{"header value set ignores pattern even on exact", valueAndPattern, hdr("gamma"), 1},
		{"cookie always goes to canary", byCookie, cookie("always"), 1},
		{"cookie never stays on stable", byCookie, cookie("never"), 0},
		{"other cookie value falls through", byCookie, cookie("yes"), 0.3},
		{"header decides before cookie", headerAndCookie, both("never", "always"), 0},
		{"undecided header lets cookie decide", headerAndCookie, both("maybe", "always"), 1},
		{"undecided header and cookie fall to weight", headerAndCookie, both("maybe", "maybe"), 0.3},
		{"weight out of default total", CanaryPolicy{Weight: 5, WeightTotal: 100}, Request{}, 0.05},
		{"weight out of a larger total", CanaryPolicy{Weight: 5, WeightTotal: 1000}, Request{}, 0.005},
		{"total below 100 is ignored as ingress-nginx does", CanaryPolicy{Weight: 5, WeightTotal: 10}, Request{}, 0.05},
		{"weight above total saturates", CanaryPolicy{Weight: 150, WeightTotal: 100}, Request{}, 1},
		{"zero weight sends nothing", CanaryPolicy{WeightTotal: 100}, Request{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.CanaryShare(tt.req); got != tt.want {
				t.Errorf("CanaryShare(%+v) = %v, want %v", tt.req, got, tt.want)
			}
		})
	}
}

func testIngress(name string, ann map[string]string, host, path, svc string, port int32) *networkingv1.Ingress {
	pt := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, Annotations: ann},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			Host: host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: path, PathType: &pt, Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: port}},
				}}},
			}},
		}}},
	}
}

func TestNewIngressReadsCanaryAnnotations(t *testing.T) {
	ing := NewIngress(testIngress("web-canary", map[string]string{
		annoCanary: "true", annoByHeader: "X-Canary", annoByHeaderValue: "on",
		annoByCookie: "canary", annoCanaryWeight: "25", annoCanaryWeightTotal: "200",
		annoByHeaderPattern: "([", // invalid: reported, ignored
	}, "shop.example", "/", "web-canary", 80))
	c := ing.Canary
	if c == nil {
		t.Fatal("canary policy missing")
	}
	if c.Header != "x-canary" || c.HeaderValue != "on" || c.Cookie != "canary" || c.Weight != 25 || c.WeightTotal != 200 {
		t.Errorf("policy = %+v", *c)
	}
	if c.HeaderPattern != nil || len(ing.Problems) != 1 {
		t.Errorf("bad pattern: got %v, problems %q", c.HeaderPattern, ing.Problems)
	}
	want := IngressPath{Host: "shop.example", Path: "/", Service: "web-canary", Port: "80"}
	if len(ing.Paths) != 1 || ing.Paths[0] != want {
		t.Errorf("paths = %+v, want %+v", ing.Paths, want)
	}
	if main := NewIngress(testIngress("web", map[string]string{annoCanary: "false"}, "", "", "web", 80)); main.Canary != nil || main.Paths[0].Path != "/" {
		t.Errorf("main ingress parsed as %+v", main)
	}
}

func TestFindNginxRoutePairsMainAndCanaryBySameHostAndPath(t *testing.T) {
	canaryAnn := map[string]string{annoCanary: "true", annoCanaryWeight: "10"}
	ings := []*Ingress{
		NewIngress(testIngress("z-other-path-canary", canaryAnn, "shop.example", "/api", "web-canary", 80)),
		NewIngress(testIngress("web-canary", canaryAnn, "shop.example", "/", "web-canary", 8080)),
		NewIngress(testIngress("web", nil, "shop.example", "/", "web", 80)),
		NewIngress(testIngress("admin", nil, "admin.example", "/", "admin", 80)),
	}
	r, ok := FindNginxRoute(ings, "web")
	if !ok || r.Main.Name != "web" || r.Canary == nil || r.Canary.Name != "web-canary" {
		t.Fatalf("route = %+v, %v", r, ok)
	}
	if got := r.CanaryUpstream(); got != "shop-web-canary-8080" {
		t.Errorf("canary upstream = %q, want shop-web-canary-8080", got)
	}
	if got := r.CanaryShare(Request{}); got != 0.1 {
		t.Errorf("canary share = %v, want 0.1", got)
	}
	if r, ok := FindNginxRoute(ings, "admin"); !ok || r.Canary != nil || r.CanaryShare(Request{}) != 0 {
		t.Errorf("admin route = %+v, %v; want main only", r, ok)
	}
	if _, ok := FindNginxRoute(ings, "web-canary"); ok {
		t.Error("a Service reached only by a canary Ingress must not count as nginx-routed")
	}
}
