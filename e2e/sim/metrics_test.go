package sim

import (
	"reflect"
	"sort"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// allRoutersCluster has one entry Service per router.
func allRoutersCluster() *fakeCluster {
	c := istioCluster(shopVS())
	b := DefaultBehaviour()
	statusCode := b
	statusCode.StatusLabel = "status_code"
	c.services = append(c.services,
		testService("shop", "cart", map[string]string{"app": "cart"}, Traffic{RPS: 100}),
		managed(testService("shop", "cart-canary", map[string]string{"app": "cart-canary"}, Traffic{RPS: 100})),
		testService("shop", "search", map[string]string{"app": "search"}, Traffic{RPS: 100}),
	)
	c.pods = append(c.pods,
		testPod("shop", "cart-7c9-aaaaa", "cart", map[string]string{"app": "cart"}, statusCode),
		testPod("shop", "cart-canary-5f-bbbbb", "cart-canary", map[string]string{"app": "cart-canary"}, b),
		testPod("shop", "search-5b-ccccc", "search", map[string]string{"app": "search"}, b),
	)
	c.ingresses = []*Ingress{
		NewIngress(testIngress("cart", nil, "shop.example", "/", "cart", 80)),
		NewIngress(testIngress("cart-canary", map[string]string{annoCanary: "true", annoCanaryWeight: "20"}, "shop.example", "/", "cart-canary", 80)),
	}
	return c
}

func TestMetricsHaveTheDocumentedNamesAndLabels(t *testing.T) {
	nginx := []string{"canary", "controller_class", "controller_namespace", "controller_pod", "host",
		"ingress", "method", "namespace", "path", "service", "status"}
	istio := []string{"destination_service", "destination_service_name", "destination_service_namespace",
		"destination_version", "destination_workload", "destination_workload_namespace", "reporter",
		"request_protocol", "response_code", "response_flags", "source_workload", "source_workload_namespace"}
	cadvisor := []string{"container", "image", "namespace", "pod"}
	want := map[string]struct {
		typ    dto.MetricType
		labels []string
	}{
		"nginx_ingress_controller_requests":                 {dto.MetricType_COUNTER, nginx},
		"nginx_ingress_controller_request_duration_seconds": {dto.MetricType_HISTOGRAM, nginx},
		"istio_requests_total":                              {dto.MetricType_COUNTER, istio},
		"istio_request_duration_milliseconds":               {dto.MetricType_HISTOGRAM, istio},
		// One of the status labels is set per pod (sim.rolloutd.io/status-label),
		// the others are empty, which Prometheus stores as absent.
		"http_requests_total":                {dto.MetricType_COUNTER, []string{"code", "method", "namespace", "pod", "status", "status_code"}},
		"http_request_duration_seconds":      {dto.MetricType_HISTOGRAM, []string{"method", "namespace", "pod"}},
		"container_cpu_usage_seconds_total":  {dto.MetricType_COUNTER, append([]string{"cpu"}, cadvisor...)},
		"container_memory_working_set_bytes": {dto.MetricType_GAUGE, cadvisor},
		"container_cpu_load_average_10s":     {dto.MetricType_GAUGE, cadvisor},
	}
	m := NewMetrics()
	steps(NewEngine(1, m), allRoutersCluster(), 3)
	fams := scrape(t, m)
	if len(fams) != len(want) {
		t.Errorf("got %d families, want %d", len(fams), len(want))
	}
	for name, w := range want {
		f := fams[name]
		if f == nil || len(f.GetMetric()) == 0 {
			t.Errorf("%s: no series", name)
			continue
		}
		if f.GetType() != w.typ {
			t.Errorf("%s: type %v, want %v", name, f.GetType(), w.typ)
		}
		sort.Strings(w.labels)
		for _, s := range f.GetMetric() {
			var got []string
			for _, l := range s.GetLabel() {
				got = append(got, l.GetName())
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, w.labels) {
				t.Fatalf("%s: labels %v, want %v", name, got, w.labels)
			}
		}
	}
	if cpu := fams["container_cpu_usage_seconds_total"].GetMetric()[0]; labelsOf(cpu)["cpu"] != "total" {
		t.Errorf("cpu label = %q, want total", labelsOf(cpu)["cpu"])
	}
	checkBuckets(t, fams["nginx_ingress_controller_request_duration_seconds"], nginxBuckets)
	checkBuckets(t, fams["istio_request_duration_milliseconds"], istioBuckets)
	checkBuckets(t, fams["http_request_duration_seconds"], []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10})
}

func checkBuckets(t *testing.T, f *dto.MetricFamily, want []float64) {
	t.Helper()
	var got []float64
	for _, b := range f.GetMetric()[0].GetHistogram().GetBucket() {
		got = append(got, b.GetUpperBound())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s buckets %v, want %v", f.GetName(), got, want)
	}
}

func TestLabelValuesTellRoutesApart(t *testing.T) {
	m := NewMetrics()
	e := NewEngine(2, m)
	steps(e, allRoutersCluster(), 10)
	tests := []struct {
		name   string
		metric string
		labels map[string]string
	}{
		{"nginx stable has an empty canary label", "nginx_ingress_controller_requests",
			map[string]string{"namespace": "shop", "ingress": "cart", "service": "cart", "canary": "", "status": "200", "host": "shop.example", "path": "/", "method": "GET"}},
		{"nginx canary is reported under the main ingress", "nginx_ingress_controller_requests",
			map[string]string{"ingress": "cart", "service": "cart", "canary": "shop-cart-canary-80", "status": "200"}},
		{"istio source reporter is the gateway", "istio_requests_total",
			map[string]string{"reporter": "source", "source_workload": "istio-ingressgateway", "source_workload_namespace": "istio-system",
				"destination_workload": "web-canary", "destination_workload_namespace": "shop", "destination_service": "web-canary.shop.svc.cluster.local",
				"destination_service_name": "web-canary", "destination_service_namespace": "shop", "response_code": "200", "request_protocol": "http", "response_flags": "-"}},
		{"istio version comes from the pod label", "istio_requests_total",
			map[string]string{"reporter": "destination", "destination_workload": "web", "destination_version": "v2"}},
		{"app metrics per pod", "http_requests_total",
			map[string]string{"namespace": "shop", "pod": "search-5b-ccccc", "method": "GET", "code": "200", "status_code": ""}},
		{"a pod's status label is the one its behaviour names", "http_requests_total",
			map[string]string{"pod": "cart-7c9-aaaaa", "code": "", "status": "", "status_code": "200"}},
		{"cadvisor names the first container and its image", "container_memory_working_set_bytes",
			map[string]string{"namespace": "shop", "pod": "search-5b-ccccc", "container": "app", "image": "example/app:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if total(t, m, tt.metric, tt.labels) <= 0 {
				t.Errorf("no %s series with %v", tt.metric, tt.labels)
			}
		})
	}
}

func TestExpositionPassesLintExceptEcosystemNames(t *testing.T) {
	m := NewMetrics()
	steps(NewEngine(4, m), allRoutersCluster(), 2)
	problems, err := testutil.CollectAndLint(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		switch p.Metric {
		case "nginx_ingress_controller_requests", "istio_request_duration_milliseconds":
			continue // the ecosystem's own names: no _total suffix, milliseconds
		}
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestSeriesOfDeletedObjectsVanish(t *testing.T) {
	c := allRoutersCluster()
	m := NewMetrics()
	e := NewEngine(6, m)
	steps(e, c, 3)
	before := map[string]map[string]string{
		"pod":      {"pod": "search-5b-ccccc"},
		"workload": {"destination_workload": "web-canary"},
		"ingress":  {"ingress": "cart"},
	}
	for what, labels := range before {
		if seriesWith(t, m, labels) == 0 {
			t.Fatalf("%s: no series before deletion", what)
		}
	}
	c.removePod("search-5b-ccccc")
	c.removePod("web-canary-6c9-ccccc")
	c.ingresses = c.ingresses[1:] // the main cart Ingress
	steps(e, c, 1)
	for what, labels := range before {
		if n := seriesWith(t, m, labels); n != 0 {
			t.Errorf("%s deleted but %d series remain", what, n)
		}
	}
	if st := e.Routes()["shop/search"]; len(st.Served) != 0 {
		t.Errorf("deleted pod still in route status: %v", st.Served)
	}
	if seriesWith(t, m, map[string]string{"pod": "cart-7c9-aaaaa"}) == 0 {
		t.Error("series of a pod that still exists were removed")
	}

	c.services = c.services[:1] // only web stays, and no longer behind Istio
	c.vss = nil
	steps(e, c, 1)
	if n := seriesWith(t, m, map[string]string{"destination_service_name": "web-canary"}); n != 0 {
		t.Errorf("deleted Service web-canary still has %d series", n)
	}
	if _, ok := e.Routes()["shop/cart"]; ok {
		t.Error("deleted entry Service still has a route status")
	}
}
