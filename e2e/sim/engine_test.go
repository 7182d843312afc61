package sim

import (
	"math"
	"sort"
	"testing"
)

func TestServiceTrafficFollowsTheReplicaRatio(t *testing.T) {
	b := DefaultBehaviour()
	app := map[string]string{"app": "web"}
	c := &fakeCluster{
		services: []*Service{testService("shop", "web", app, Traffic{RPS: 2000})},
		pods: []*Pod{
			testPod("shop", "web-7c9-aaaaa", "web", app, b),
			testPod("shop", "web-7c9-bbbbb", "web", app, b),
			testPod("shop", "web-7c9-ccccc", "web", app, b),
			testPod("shop", "web-canary-5f-ddddd", "web-canary", app, b),
		},
	}
	notReady := testPod("shop", "web-7c9-eeeee", "web", app, b)
	notReady.Ready = false
	terminating := testPod("shop", "web-7c9-fffff", "web", app, b)
	terminating.DeletionTimestamp = &terminating.CreationTimestamp
	otherNS := testPod("other", "web-7c9-ggggg", "web", app, b)
	c.pods = append(c.pods, notReady, terminating, otherNS)

	e := NewEngine(11, NewMetrics())
	steps(e, c, 10)
	st := e.Routes()["shop/web"]
	if st.Router != RouterService {
		t.Fatalf("router = %q, want service", st.Router)
	}
	for _, name := range []string{"shop/web-7c9-eeeee", "shop/web-7c9-fffff", "other/web-7c9-ggggg"} {
		if st.Served[name] != 0 {
			t.Errorf("pod %s is not serving but got %d requests", name, st.Served[name])
		}
	}
	canary := float64(st.Served["shop/web-canary-5f-ddddd"]) / float64(st.Requests)
	if st.Requests < 19000 || math.Abs(canary-0.25) > 0.02 {
		t.Errorf("canary share %v of %d requests, want 0.25 (1 of 4 ready pods)", canary, st.Requests)
	}
	if got := st.WorkloadShare["shop/web-canary"]; got != 0.25 {
		t.Errorf("expected canary workload share %v, want 0.25", got)
	}
}

func TestNginxCanaryReceivesOnlyMatchingRequests(t *testing.T) {
	b := DefaultBehaviour()
	c := &fakeCluster{
		services: []*Service{
			testService("shop", "web", map[string]string{"app": "web"}, Traffic{RPS: 1000,
				Headers: []Share{{Name: "x-canary", Value: "always", Share: 0.1}}}),
			managed(testService("shop", "web-canary", map[string]string{"app": "web-canary"}, Traffic{RPS: 20})),
		},
		pods: []*Pod{
			testPod("shop", "web-7c9-aaaaa", "web", map[string]string{"app": "web"}, b),
			testPod("shop", "web-canary-5f-bbbbb", "web-canary", map[string]string{"app": "web-canary"}, b),
		},
		ingresses: []*Ingress{
			NewIngress(testIngress("web", nil, "shop.example", "/", "web", 80)),
			NewIngress(testIngress("web-canary", map[string]string{annoCanary: "true", annoByHeader: "x-canary"}, "shop.example", "/", "web-canary", 80)),
		},
	}
	m := NewMetrics()
	e := NewEngine(5, m)
	steps(e, c, 10)
	st := e.Routes()["shop/web"]
	share := float64(st.Served["shop/web-canary-5f-bbbbb"]) / float64(st.Requests)
	if st.Router != RouterNginx || math.Abs(share-0.1) > 0.015 {
		t.Errorf("router %q, canary share %v; want nginx and 0.1 (the header share)", st.Router, share)
	}
	if _, ok := e.Routes()["shop/web-canary"]; ok {
		t.Error("the generated canary Service must not receive entry traffic")
	}
	canaryReqs := total(t, m, "nginx_ingress_controller_requests", map[string]string{"canary": "shop-web-canary-80", "ingress": "web", "service": "web"})
	if int64(canaryReqs) != st.Served["shop/web-canary-5f-bbbbb"] {
		t.Errorf("nginx canary series = %v, pod served %d", canaryReqs, st.Served["shop/web-canary-5f-bbbbb"])
	}
}

func TestBackendWithoutReadyPodsAnswers503OnTheEntryOnly(t *testing.T) {
	b := DefaultBehaviour()
	down := testPod("shop", "web-canary-5f-bbbbb", "web-canary", map[string]string{"app": "web-canary"}, b)
	down.Ready = false
	c := &fakeCluster{
		services: []*Service{
			testService("shop", "web", map[string]string{"app": "web"}, Traffic{RPS: 500}),
			managed(testService("shop", "web-canary", map[string]string{"app": "web-canary"}, Traffic{})),
		},
		pods: []*Pod{testPod("shop", "web-7c9-aaaaa", "web", map[string]string{"app": "web"}, b), down},
		ingresses: []*Ingress{
			NewIngress(testIngress("web", nil, "", "/", "web", 80)),
			NewIngress(testIngress("web-canary", map[string]string{annoCanary: "true", annoCanaryWeight: "50"}, "", "/", "web-canary", 80)),
		},
	}
	m := NewMetrics()
	e := NewEngine(9, m)
	steps(e, c, 5)
	got503 := total(t, m, "nginx_ingress_controller_requests", map[string]string{"canary": "shop-web-canary-80", "status": "503"})
	st := e.Routes()["shop/web"]
	if got503 == 0 || int64(got503) != st.Unavailable {
		t.Errorf("503 on the canary upstream = %v, unavailable %d", got503, st.Unavailable)
	}
	if n := seriesWith(t, m, map[string]string{"pod": "web-canary-5f-bbbbb", "code": "503"}); n != 0 {
		t.Errorf("a pod that got no request has %d 503 series", n)
	}
	if n := total(t, m, "nginx_ingress_controller_requests", map[string]string{"canary": "shop-web-canary-80", "status": "200"}); n != 0 {
		t.Errorf("canary without ready pods served %v requests", n)
	}
}

func TestErrorShapeMatchesTheConfiguredRate(t *testing.T) {
	b := DefaultBehaviour()
	b.ErrorRate = 0.2
	e := NewEngine(42, NewMetrics())
	pod := testPod("shop", "p", "w", nil, b)
	errs, n := 0, 0
	for range 100 {
		for _, r := range e.serve(pod, 100) {
			n += r.count
			if r.code == 500 {
				errs += r.count
			}
		}
	}
	if share := float64(errs) / float64(n); n != 10000 || math.Abs(share-0.2) > 0.02 {
		t.Errorf("error share %v of %d, want 0.2±0.02", share, n)
	}
}

func TestLatencyShapeMatchesTheConfiguredPercentiles(t *testing.T) {
	b := DefaultBehaviour()
	b.LatencyP50, b.LatencyP99 = 0.050, 0.400
	r := NewRand(42)
	xs := make([]float64, 20000)
	for i := range xs {
		xs[i] = b.SampleLatency(r)
	}
	sort.Float64s(xs)
	p50, p99 := xs[len(xs)/2], xs[len(xs)*99/100]
	if math.Abs(p50/0.050-1) > 0.05 || math.Abs(p99/0.400-1) > 0.10 {
		t.Errorf("p50 %v p99 %v, want about 0.050 and 0.400", p50, p99)
	}
}

func TestSamplersHaveTheRightMeans(t *testing.T) {
	r := NewRand(1)
	tests := []struct {
		name string
		draw func() int
		mean float64
	}{
		{"small poisson", func() int { return poisson(r, 4) }, 4},
		{"large poisson", func() int { return poisson(r, 500) }, 500},
		{"small binomial", func() int { return binomial(r, 50, 0.3) }, 15},
		{"sparse binomial", func() int { return binomial(r, 1000, 0.002) }, 2},
		{"dense binomial", func() int { return binomial(r, 10000, 0.7) }, 7000},
	}
	for _, tt := range tests {
		sum := 0
		for range 4000 {
			sum += tt.draw()
		}
		if got := float64(sum) / 4000; math.Abs(got/tt.mean-1) > 0.05 {
			t.Errorf("%s: mean %v, want %v", tt.name, got, tt.mean)
		}
	}
	counts := multinomial(r, 1000, []float64{0, 3, 0, 1, 0})
	if counts[0]+counts[2]+counts[4] != 0 || counts[1]+counts[3] != 1000 {
		t.Errorf("multinomial put draws on zero weights: %v", counts)
	}
}

func TestSameSeedReplays(t *testing.T) {
	run := func() float64 {
		c := istioCluster(shopVS())
		m := NewMetrics()
		steps(NewEngine(99, m), c, 3)
		return total(t, m, "istio_request_duration_milliseconds", map[string]string{"reporter": "source"}) +
			total(t, m, "container_memory_working_set_bytes", nil)
	}
	if a, b := run(), run(); a != b {
		t.Errorf("two runs with seed 99 differ: %v vs %v", a, b)
	}
}

// With per-request CPU and load a pod's usage follows the traffic it serves: of
// two versions with the same per-request cost, the pod serving three times the
// requests uses three times the CPU and load on top of the fixed per-pod part.
func TestPerRequestCPUAndLoadFollowTheTrafficAPodServes(t *testing.T) {
	b := DefaultBehaviour()
	b.CPU, b.Load, b.CPUPerRequest, b.LoadPerRequest = 0.05, 0.1, 0.002, 0.01
	c := &fakeCluster{}
	c.services = append(c.services,
		testService("shop", "busy", map[string]string{"app": "busy"}, Traffic{RPS: 300}),
		testService("shop", "quiet", map[string]string{"app": "quiet"}, Traffic{RPS: 100}))
	c.pods = append(c.pods,
		testPod("shop", "busy-1-aaaaa", "busy", map[string]string{"app": "busy"}, b),
		testPod("shop", "quiet-1-bbbbb", "quiet", map[string]string{"app": "quiet"}, b))
	m := NewMetrics()
	const seconds = 60
	steps(NewEngine(5, m), c, seconds)
	for _, tc := range []struct {
		pod       string
		rps       float64
		cpu, load float64
	}{
		{"busy-1-aaaaa", 300, 0.05 + 0.002*300, 0.1 + 0.01*300},
		{"quiet-1-bbbbb", 100, 0.05 + 0.002*100, 0.1 + 0.01*100},
	} {
		cpu := total(t, m, "container_cpu_usage_seconds_total", map[string]string{"pod": tc.pod}) / seconds
		if math.Abs(cpu/tc.cpu-1) > 0.05 {
			t.Errorf("%s: %v cores, want about %v", tc.pod, cpu, tc.cpu)
		}
		load := total(t, m, "container_cpu_load_average_10s", map[string]string{"pod": tc.pod})
		if math.Abs(load/tc.load-1) > 0.25 {
			t.Errorf("%s: load %v, want about %v", tc.pod, load, tc.load)
		}
	}
}
