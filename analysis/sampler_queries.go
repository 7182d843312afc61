package analysis

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// The shared sampler reads raw request counters grouped by the labels that tell
// rollouts, sides and statuses apart: one query per source per tick, however many
// rollouts are analysed, the namespaces of those rollouts in one regex matcher.
// Deltas are taken in the daemon (see evidence.go), so no range is queried and a
// tick costs Prometheus one index lookup per source.

// groupQuery renders the grouped counter query of source for the namespaces
// matched by nsRe (a regex, already escaped), grouped by label (the status label).
func groupQuery(source contract.Source, label, nsRe string) (string, error) {
	switch source {
	case contract.SourceNginx:
		return fmt.Sprintf(`sum by (namespace, ingress, canary, %s) (nginx_ingress_controller_requests{namespace=~"%s"})`, label, nsRe), nil
	case contract.SourceIstio:
		by := "reporter, destination_workload_namespace, destination_workload, destination_service_namespace, destination_service_name, " + label
		return fmt.Sprintf(`sum by (%s) (istio_requests_total{reporter="destination",destination_workload_namespace=~"%[2]s"} or `+
			`istio_requests_total{reporter="source",destination_workload="unknown",destination_service_namespace=~"%[2]s"})`, by, nsRe), nil
	case contract.SourceService:
		return fmt.Sprintf(`sum by (namespace, pod, %s) (http_requests_total{namespace=~"%s"})`, label, nsRe), nil
	}
	return "", fmt.Errorf("unknown metric source %q", source)
}

// latencyQuery renders the grouped request-duration bucket query of source
// for the namespaces matched by nsRe: the requests each side served, by le.
func latencyQuery(source contract.Source, nsRe string) (string, error) {
	switch source {
	case contract.SourceNginx:
		return fmt.Sprintf(`sum by (namespace, ingress, canary, le) (nginx_ingress_controller_request_duration_seconds_bucket{namespace=~"%s"})`, nsRe), nil
	case contract.SourceIstio:
		return fmt.Sprintf(`sum by (reporter, destination_workload_namespace, destination_workload, le) `+
			`(istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace=~"%s"})`, nsRe), nil
	case contract.SourceService:
		return fmt.Sprintf(`sum by (namespace, pod, le) (http_request_duration_seconds_bucket{namespace=~"%s"})`, nsRe), nil
	}
	return "", fmt.Errorf("unknown metric source %q", source)
}

// resourceQuery renders the grouped cAdvisor query of a resource family, per
// pod: raw CPU counters, load gauges. container!="" drops the pod-level cgroup
// series, container!="POD" the pause container.
func resourceQuery(fam family, nsRe string) (string, error) {
	metric := map[family]string{famCPU: "container_cpu_usage_seconds_total", famLoad: "container_cpu_load_average_10s"}[fam]
	if metric == "" {
		return "", fmt.Errorf("no resource query for family %d", fam)
	}
	return fmt.Sprintf(`sum by (namespace, pod) (%s{namespace=~"%s",container!="",container!="POD"})`, metric, nsRe), nil
}

// namespacesRe matches exactly the given namespaces, escaped for a PromQL string.
func namespacesRe(namespaces []string) string {
	sorted := append([]string(nil), namespaces...)
	sort.Strings(sorted)
	quoted := make([]string, 0, len(sorted))
	for i, ns := range sorted {
		if i > 0 && ns == sorted[i-1] {
			continue
		}
		quoted = append(quoted, regexp.QuoteMeta(ns))
	}
	return escapeString(strings.Join(quoted, "|"))
}

// sideOf says which side of t a grouped series counts for, if any. The rules are
// those of the per-gate statuses templates in queries.go.
// Request families select sides by their source's labels, resource families
// (cAdvisor, per pod) by pod name for every source.
func sideOf(t Target, fam family, m model.Metric, pods [2]*regexp.Regexp) (side, bool) {
	get := func(l string) string { return string(m[model.LabelName(l)]) }
	source := t.Source
	if fam.perPod() {
		source = contract.SourceService
	}
	switch source {
	case contract.SourceNginx:
		if get("namespace") != t.Namespace || get("ingress") != t.Ingress {
			return false, false
		}
		return side(get("canary") != ""), true
	case contract.SourceIstio:
		if get("reporter") == "destination" && get("destination_workload_namespace") == t.Namespace {
			switch get("destination_workload") {
			case t.Canary:
				return canarySide, true
			case t.Deployment:
				return stableSide, true
			}
			return false, false
		}
		if get("reporter") != "source" || get("destination_workload") != "unknown" || get("destination_service_namespace") != t.Namespace {
			return false, false
		}
		switch get("destination_service_name") {
		case t.Canary:
			return canarySide, true
		case t.Service:
			return stableSide, true
		}
	case contract.SourceService:
		if get("namespace") != t.Namespace {
			return false, false
		}
		pod := get("pod")
		if pods[0].MatchString(pod) {
			return canarySide, true
		}
		if pods[1].MatchString(pod) {
			return stableSide, true
		}
	}
	return false, false
}

// podRegexps are the anchored canary and stable pod-name patterns of t.
func podRegexps(t Target) [2]*regexp.Regexp {
	c := regexp.MustCompile("^(?:" + podPattern(t.Canary) + ")$")
	s := regexp.MustCompile("^(?:" + podPattern(t.Deployment) + ")$")
	return [2]*regexp.Regexp{c, s}
}
