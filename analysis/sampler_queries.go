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
// matched by nsRe (a regex, already escaped), grouped by label (the status label),
// with each group's scrape times (see withScrapeTimes).
func groupQuery(source contract.Source, label, nsRe string) (string, error) {
	var group string
	var selectors []string
	switch source {
	case contract.SourceNginx:
		group = "namespace, ingress, canary"
		selectors = []string{fmt.Sprintf(`nginx_ingress_controller_requests{namespace=~"%s"}`, nsRe)}
	case contract.SourceIstio:
		group = "reporter, destination_workload_namespace, destination_workload, destination_service_namespace, destination_service_name"
		selectors = []string{
			fmt.Sprintf(`istio_requests_total{reporter="destination",destination_workload_namespace=~"%s"}`, nsRe),
			fmt.Sprintf(`istio_requests_total{reporter="source",destination_workload="unknown",destination_service_namespace=~"%s"}`, nsRe),
		}
	case contract.SourceService:
		group = "namespace, pod"
		selectors = []string{fmt.Sprintf(`http_requests_total{namespace=~"%s"}`, nsRe)}
	default:
		return "", fmt.Errorf("unknown metric source %q", source)
	}
	return withScrapeTimes(group+", "+label, group, selectors), nil
}

// latencyQuery renders the grouped request-duration bucket query of source
// for the namespaces matched by nsRe: the requests each side served, by le,
// with each group's scrape times.
func latencyQuery(source contract.Source, nsRe string) (string, error) {
	var group, selector string
	switch source {
	case contract.SourceNginx:
		group = "namespace, ingress, canary"
		selector = fmt.Sprintf(`nginx_ingress_controller_request_duration_seconds_bucket{namespace=~"%s"}`, nsRe)
	case contract.SourceIstio:
		group = "reporter, destination_workload_namespace, destination_workload"
		selector = fmt.Sprintf(`istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace=~"%s"}`, nsRe)
	case contract.SourceService:
		group = "namespace, pod"
		selector = fmt.Sprintf(`http_request_duration_seconds_bucket{namespace=~"%s"}`, nsRe)
	default:
		return "", fmt.Errorf("unknown metric source %q", source)
	}
	return withScrapeTimes(group+", le", group, []string{selector}), nil
}

// scrapedLabel marks the series of a grouped answer that hold a group's scrape
// time instead of a count.
const scrapedLabel = "rolloutd_scraped"

// withScrapeTimes renders the sum by `by` of the selectors' counters and, in the
// same answer, the time of each group's oldest latest sample, marked with
// scrapedLabel. A counter read at a tick holds every request up to its scrape,
// which can be a scrape interval older than the tick: the evidence needs that
// time to tell requests answered before a rollout began from those after it.
// timestamp() gives sample times only of a plain selector, hence one per selector.
func withScrapeTimes(by, group string, selectors []string) string {
	stamps := make([]string, len(selectors))
	for i, sel := range selectors {
		stamps[i] = fmt.Sprintf("min by (%s) (timestamp(%s))", group, sel)
	}
	return fmt.Sprintf(`sum by (%s) (%s) or label_replace(%s, "%s", "true", "", "")`,
		by, strings.Join(selectors, " or "), strings.Join(stamps, " or "), scrapedLabel)
}

// resourceQuery renders the grouped cAdvisor query of a resource family, per
// pod: raw CPU counters, load gauges. container!="" drops the pod-level cgroup
// series, container!="POD" the pause container.
func resourceQuery(fam family, nsRe string) (string, error) {
	metric := map[family]string{famCPU: "container_cpu_usage_seconds_total", famLoad: "container_cpu_load_average_10s",
		famMemory: "container_memory_working_set_bytes"}[fam]
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
