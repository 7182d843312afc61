package sim

import (
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Histogram buckets as the real exporters use them.
var (
	nginxBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	istioBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
		30000, 60000, 300000, 600000, 1800000, 3600000}
	appBuckets = prometheus.DefBuckets
)

// Label sets, in the order the record functions pass values.
var (
	nginxLabels = []string{"namespace", "ingress", "service", "canary", "status", "method",
		"path", "host", "controller_class", "controller_namespace", "controller_pod"}
	istioLabels = []string{"reporter", "source_workload", "source_workload_namespace",
		"destination_workload", "destination_workload_namespace", "destination_service",
		"destination_service_name", "destination_service_namespace", "destination_version",
		"response_code", "request_protocol", "response_flags"}
	// The app's request metric has one status label; which one the pod's
	// behaviour says (StatusLabels), the others stay empty, which Prometheus
	// stores as absent.
	appRequestLabels  = append([]string{"namespace", "pod", "method"}, StatusLabels...)
	appDurationLabels = []string{"namespace", "pod", "method"}
	cadvisorLabels    = []string{"namespace", "pod", "container", "image"}
)

// depKind names what a series describes; the series goes when that object does.
type depKind uint8

const (
	depPod depKind = iota
	depService
	depIngress
	depWorkload
)

// dep is an object a series depends on.
type dep struct {
	kind            depKind
	namespace, name string
}

type series struct {
	labels []string
	deps   []dep
	value  float64  // counter or gauge
	counts []uint64 // histogram: per bucket, not cumulative; last is +Inf
	count  uint64
	sum    float64
}

type family struct {
	desc    *prometheus.Desc
	kind    prometheus.ValueType
	buckets []float64 // non-nil for a histogram
	series  map[string]*series
}

func newFamily(name, help string, labels []string, kind prometheus.ValueType, buckets []float64, constLabels prometheus.Labels) *family {
	return &family{
		desc:    prometheus.NewDesc(name, help, labels, constLabels),
		kind:    kind,
		buckets: buckets,
		series:  map[string]*series{},
	}
}

func (f *family) get(labels []string, deps ...dep) *series {
	key := strings.Join(labels, "\xff")
	s, ok := f.series[key]
	if !ok {
		s = &series{labels: labels, deps: deps}
		if f.buckets != nil {
			s.counts = make([]uint64, len(f.buckets)+1)
		}
		f.series[key] = s
	}
	return s
}

// observe adds weight observations of value v to a histogram series.
func (f *family) observe(s *series, v float64, weight uint64) {
	i := sort.SearchFloat64s(f.buckets, v) // first bucket with upper bound >= v
	s.counts[i] += weight
	s.count += weight
	s.sum += v * float64(weight)
}

func (f *family) collect(ch chan<- prometheus.Metric) {
	for _, s := range f.series {
		if f.buckets == nil {
			ch <- prometheus.MustNewConstMetric(f.desc, f.kind, s.value, s.labels...)
			continue
		}
		cum, acc := make(map[float64]uint64, len(f.buckets)), uint64(0)
		for i, ub := range f.buckets {
			acc += s.counts[i]
			cum[ub] = acc
		}
		ch <- prometheus.MustNewConstHistogram(f.desc, s.count, s.sum, cum, s.labels...)
	}
}

// Metrics is the simulator's aggregated state rendered as Prometheus metrics.
// It is a prometheus.Collector: register it on a registry of your own.
type Metrics struct {
	mu            sync.Mutex
	nginxRequests *family
	nginxDuration *family
	istioRequests *family
	istioDuration *family
	appRequests   *family
	appDuration   *family
	cpu           *family
	memory        *family
	load          *family
}

// NewMetrics returns an empty store.
func NewMetrics() *Metrics {
	cpuTotal := prometheus.Labels{"cpu": "total"}
	return &Metrics{
		nginxRequests: newFamily("nginx_ingress_controller_requests", "The total number of client requests.", nginxLabels, prometheus.CounterValue, nil, nil),
		nginxDuration: newFamily("nginx_ingress_controller_request_duration_seconds", "The request processing time in seconds.", nginxLabels, prometheus.UntypedValue, nginxBuckets, nil),
		istioRequests: newFamily("istio_requests_total", "Total requests.", istioLabels, prometheus.CounterValue, nil, nil),
		istioDuration: newFamily("istio_request_duration_milliseconds", "Request duration in milliseconds.", istioLabels, prometheus.UntypedValue, istioBuckets, nil),
		appRequests:   newFamily("http_requests_total", "Total HTTP requests served by the pod.", appRequestLabels, prometheus.CounterValue, nil, nil),
		appDuration:   newFamily("http_request_duration_seconds", "HTTP request duration in seconds.", appDurationLabels, prometheus.UntypedValue, appBuckets, nil),
		cpu:           newFamily("container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", cadvisorLabels, prometheus.CounterValue, nil, cpuTotal),
		memory:        newFamily("container_memory_working_set_bytes", "Current working set in bytes.", cadvisorLabels, prometheus.GaugeValue, nil, nil),
		load:          newFamily("container_cpu_load_average_10s", "Value of container cpu load average over the last 10 seconds.", cadvisorLabels, prometheus.GaugeValue, nil, nil),
	}
}

func (m *Metrics) families() []*family {
	return []*family{m.nginxRequests, m.nginxDuration, m.istioRequests, m.istioDuration,
		m.appRequests, m.appDuration, m.cpu, m.memory, m.load}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range m.families() {
		ch <- f.desc
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.families() {
		f.collect(ch)
	}
}

// Sweep drops every series that depends on an object that no longer exists,
// so Prometheus stops seeing deleted pods, Services, Ingresses and workloads.
func (m *Metrics) Sweep(exists func(dep) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.families() {
		for key, s := range f.series {
			for _, d := range s.deps {
				if !exists(d) {
					delete(f.series, key)
					break
				}
			}
		}
	}
}

// SeriesCount returns the number of series held, for tests and logs.
func (m *Metrics) SeriesCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, f := range m.families() {
		n += len(f.series)
	}
	return n
}
