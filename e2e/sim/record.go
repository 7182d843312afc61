package sim

import (
	"slices"
	"strconv"
)

// Fixed labels of the simulated ingress-nginx controller and Istio gateway.
const (
	nginxControllerClass     = "k8s.io/ingress-nginx"
	nginxControllerNamespace = "ingress-nginx"
	nginxControllerPod       = "ingress-nginx-controller-sim"
	gatewayWorkload          = "istio-ingressgateway"
	gatewayNamespace         = "istio-system"
	reporterSource           = "source"
	reporterDestination      = "destination"
)

// sample is a latency observation standing for weight requests.
type sample struct {
	seconds float64
	weight  uint64
}

// result is what count requests answered with one status code got.
type result struct {
	code      int
	count     int
	latencies []sample
}

// recordNginx counts requests ingress-nginx proxied on the route; canary
// says whether the canary Ingress sent them to the canary backend.
func (m *Metrics) recordNginx(r NginxRoute, canary bool, results []result) {
	upstream, deps := "", []dep{
		{depIngress, r.Main.Namespace, r.Main.Name},
		{depService, r.Main.Namespace, r.Path.Service},
	}
	if canary {
		upstream = r.CanaryUpstream()
		deps = append(deps, dep{depIngress, r.Canary.Namespace, r.Canary.Name},
			dep{depService, r.Canary.Namespace, r.CanaryPath.Service})
	}
	host := r.Path.Host
	if host == "" {
		host = "_"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, res := range results {
		labels := []string{r.Main.Namespace, r.Main.Name, r.Path.Service, upstream,
			strconv.Itoa(res.code), requestMethod, r.Path.Path, host,
			nginxControllerClass, nginxControllerNamespace, nginxControllerPod}
		m.nginxRequests.get(labels, deps...).value += float64(res.count)
		h := m.nginxDuration.get(labels, deps...)
		for _, s := range res.latencies {
			m.nginxDuration.observe(h, s.seconds, s.weight)
		}
	}
}

// istioTarget is the destination side of an Istio series.
type istioTarget struct {
	service   *Service // nil when the destination names no Service
	host      string   // resolved "namespace/name" fallback when service is nil
	namespace string
	pod       *Pod // nil when no pod answered
	flags     string
}

// recordIstio counts requests as one Envoy reporter saw them.
func (m *Metrics) recordIstio(reporter string, entry *Service, t istioTarget, results []result) {
	svcName, svcNS, fqdn := t.host, t.namespace, t.host+"."+t.namespace+".svc.cluster.local"
	deps := []dep{{depService, entry.Namespace, entry.Name}}
	if t.service != nil {
		svcName, svcNS, fqdn = t.service.Name, t.service.Namespace, t.service.FQDN()
		deps = append(deps, dep{depService, svcNS, svcName})
	}
	workload, workloadNS, version := "unknown", "unknown", "unknown"
	if t.pod != nil {
		workload, workloadNS, version = t.pod.Workload, t.pod.Namespace, t.pod.Version
		deps = append(deps, dep{depWorkload, workloadNS, workload})
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, res := range results {
		labels := []string{reporter, gatewayWorkload, gatewayNamespace, workload, workloadNS,
			fqdn, svcName, svcNS, version, strconv.Itoa(res.code), "http", t.flags}
		m.istioRequests.get(labels, deps...).value += float64(res.count)
		h := m.istioDuration.get(labels, deps...)
		for _, s := range res.latencies {
			m.istioDuration.observe(h, s.seconds*1000, s.weight)
		}
	}
}

// recordApp counts requests in the pod's own application metrics.
func (m *Metrics) recordApp(pod *Pod, results []result) {
	deps := []dep{{depPod, pod.Namespace, pod.Name}}
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.appDuration.get([]string{pod.Namespace, pod.Name, requestMethod}, deps...)
	for _, res := range results {
		labels := []string{pod.Namespace, pod.Name, requestMethod, "", "", ""}
		labels[3+max(slices.Index(StatusLabels, pod.Behaviour.StatusLabel), 0)] = strconv.Itoa(res.code)
		m.appRequests.get(labels, deps...).value += float64(res.count)
		for _, s := range res.latencies {
			m.appDuration.observe(h, s.seconds, s.weight)
		}
	}
}

// recordContainer advances a pod's cAdvisor metrics by one tick.
func (m *Metrics) recordContainer(pod *Pod, cpuSeconds, memory, load float64) {
	labels := []string{pod.Namespace, pod.Name, pod.Container, pod.Image}
	deps := []dep{{depPod, pod.Namespace, pod.Name}}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cpu.get(labels, deps...).value += cpuSeconds
	m.memory.get(labels, deps...).value = memory
	m.load.get(labels, deps...).value = load
}
