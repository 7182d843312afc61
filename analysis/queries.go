package analysis

import (
	"bytes"
	"fmt"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"regexp"
	"strings"
	"text/template"
	"time"
)

// Query templates. Each source defines "sel", the label matchers that select one
// side (canary or stable) of the target, and the request templates built on it.
// "statuses" counts one side's requests by response status (one series per status
// value, and one without the label for requests that carry none), so that "no
// errors" (only 2xx series) is told from "no status label" (requests, but no
// status): a missing label never reads as a zero error rate. Every other built-in
// query aggregates to a single series, so a check reads exactly one number per
// side. Variables are documented on templateVars.
const (
	nginxTemplates = `
{{- define "sel"}}namespace="{{.Namespace}}",ingress="{{.Ingress}}",canary{{if .IsCanary}}!={{else}}={{end}}""{{end}}
{{- define "statuses"}}sum by ({{.StatusLabel}}) (increase(nginx_ingress_controller_requests{ {{- template "sel" .}}}[{{.Window}}]{{.Offset}})){{end}}
{{- define "latency"}}histogram_quantile({{.Quantile}}, sum by (le) (rate(nginx_ingress_controller_request_duration_seconds_bucket{ {{- template "sel" .}}}[{{.Window}}]{{.Offset}}))){{end}}`

	// Istio counts a request at the pod that served it (reporter="destination"),
	// and also at the proxy that sent it (reporter="source"). A request the mesh
	// answers itself because no healthy pod was there (503 with response flag UH
	// or NC) reaches no pod, so only the source reports it, with
	// destination_workload="unknown" and the Service it was sent to: those are
	// added, so a canary without healthy pods shows its errors instead of no
	// traffic. Requests that reached a pod are counted once, at the destination.
	istioTemplates = `
{{- define "sel"}}reporter="destination",destination_workload_namespace="{{.Namespace}}",destination_workload="{{.Workload}}"{{end}}
{{- define "unserved"}}reporter="source",destination_service_namespace="{{.Namespace}}",destination_service_name="{{.ServiceName}}",destination_workload="unknown"{{end}}
{{- define "statuses"}}sum by ({{.StatusLabel}}) (increase(istio_requests_total{ {{- template "sel" .}}}[{{.Window}}]{{.Offset}}) or increase(istio_requests_total{ {{- template "unserved" .}}}[{{.Window}}]{{.Offset}})){{end}}
{{- define "latency"}}histogram_quantile({{.Quantile}}, sum by (le) (rate(istio_request_duration_milliseconds_bucket{ {{- template "sel" .}}}[{{.Window}}]{{.Offset}}))) / 1000{{end}}`

	serviceTemplates = `
{{- define "sel"}}namespace="{{.Namespace}}",pod=~"{{.Pods}}"{{end}}
{{- define "statuses"}}sum by ({{.StatusLabel}}) (increase(http_requests_total{ {{- template "sel" .}}}[{{.Window}}]{{.Offset}})){{end}}
{{- define "latency"}}histogram_quantile({{.Quantile}}, sum by (le) (rate(http_request_duration_seconds_bucket{ {{- template "sel" .}}}[{{.Window}}]{{.Offset}}))){{end}}`

	// Resource templates read cAdvisor for every source: aggregate per pod, then
	// average across pods so that replica counts do not matter. container!=""
	// drops cAdvisor's pod-level cgroup series, container!="POD" the pause container.
	resourceTemplates = `
{{- define "pods"}}namespace="{{.Namespace}}",pod=~"{{.Pods}}",container!="",container!="POD"{{end}}
{{- define "cpu"}}avg(sum by (pod) (rate(container_cpu_usage_seconds_total{ {{- template "pods" .}}}[{{.Window}}]{{.Offset}}))){{end}}
{{- define "memory"}}avg(sum by (pod) (container_memory_working_set_bytes{ {{- template "pods" .}}}{{.Offset}})){{end}}
{{- define "memory-growth"}}avg(sum by (pod) (deriv(container_memory_working_set_bytes{ {{- template "pods" .}}}[{{.Window}}]{{.Offset}}))) * 60{{end}}
{{- define "load"}}avg(sum by (pod) (avg_over_time(container_cpu_load_average_10s{ {{- template "pods" .}}}[{{.Window}}]{{.Offset}}))){{end}}
{{- define "alerts"}}ALERTS{alertstate="firing",namespace="{{.Namespace}}",deployment=~"{{.DeploymentRe}}|{{.CanaryRe}}"} or ALERTS{alertstate="firing",namespace="{{.Namespace}}",rolloutd_deployment=~"{{.DeploymentRe}}|{{.CanaryRe}}"}{{end}}`
)

var (
	sourceTemplates = map[contract.Source]*template.Template{
		contract.SourceNginx:   mustParse(nginxTemplates),
		contract.SourceIstio:   mustParse(istioTemplates),
		contract.SourceService: mustParse(serviceTemplates),
	}
	podTemplates = mustParse(resourceTemplates)
)

func mustParse(text string) *template.Template {
	return template.Must(template.New("").Option("missingkey=error").Parse(text))
}

// templateVars are the variables a query template sees. Every string is escaped
// for use inside a double-quoted PromQL string; the *Re and Pods variables are
// also regexp-quoted, for use after =~.
type templateVars struct {
	Namespace  string // the target's namespace
	Deployment string // the stable Deployment
	Canary     string // the canary Deployment
	Service    string // the user's Service
	Ingress    string // the user's Ingress
	Window     string // the range, whole seconds, e.g. "300s"
	Quantile   string // latency checks: e.g. "0.99"
	// StatusLabel is the label carrying the response status in the source's
	// request metric (a label name, validated, so not escaped).
	StatusLabel string
	// ServiceName is this side's Service: the canary Service ("<canary>") or the
	// user's Service.
	ServiceName string
	// Offset shifts a side's selectors back in time (" offset 90s"); empty
	// except on the stable side of a target with a BaselineOffset.
	Offset string

	DeploymentRe string // regexp matching exactly Deployment
	CanaryRe     string // regexp matching exactly Canary
	StablePods   string // regexp matching the stable pods' names
	CanaryPods   string // regexp matching the canary pods' names

	// Per side: the canary's or the stable's values.
	IsCanary bool   // true on the canary side
	Workload string // Canary or Deployment
	Pods     string // CanaryPods or StablePods
}

// side is the half of a target a query reads.
type side bool

const (
	canarySide side = true
	stableSide side = false
)

func (s side) String() string {
	if s == canarySide {
		return "canary"
	}
	return "stable"
}

// index is the side's place in the evidence's [2] arrays: canary 0, stable 1.
func (s side) index() int {
	if s == canarySide {
		return 0
	}
	return 1
}

// newVars fills the template variables of one side of t.
func newVars(t Target, s side) templateVars {
	v := templateVars{
		Namespace:    escapeString(t.Namespace),
		Deployment:   escapeString(t.Deployment),
		Canary:       escapeString(t.Canary),
		Service:      escapeString(t.Service),
		Ingress:      escapeString(t.Ingress),
		Window:       renderWindow(t.Window),
		DeploymentRe: escapeString(regexp.QuoteMeta(t.Deployment)),
		CanaryRe:     escapeString(regexp.QuoteMeta(t.Canary)),
		StablePods:   escapeString(podPattern(t.Deployment)),
		CanaryPods:   escapeString(podPattern(t.Canary)),
		IsCanary:     s == canarySide,
	}
	v.Workload, v.Pods, v.ServiceName = v.Deployment, v.StablePods, v.Service
	if s == stableSide && t.BaselineOffset >= time.Second {
		v.Offset = " offset " + renderWindow(t.BaselineOffset)
	}
	if s == canarySide {
		v.Workload, v.Pods, v.ServiceName = v.Canary, v.CanaryPods, v.Canary
	}
	return v
}

// stringEscaper escapes a value for a double-quoted PromQL string literal.
var stringEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)

func escapeString(s string) string { return stringEscaper.Replace(s) }

// renderWindow renders a range in whole seconds, at least 2s: Prometheus needs
// two samples for rate(), and a fraction of a second only invites rounding noise.
func renderWindow(d time.Duration) string {
	return fmt.Sprintf("%ds", max(2, int64(d/time.Second)))
}

// render executes one named template.
func render(set *template.Template, name string, v templateVars) (string, error) {
	var b bytes.Buffer
	if err := set.ExecuteTemplate(&b, name, v); err != nil {
		return "", fmt.Errorf("render %s query: %w", name, err)
	}
	return b.String(), nil
}

// requestQuery renders a request query (statuses, latency) for one side.
func requestQuery(t Target, name string, s side, quantile float64) (string, error) {
	set, ok := sourceTemplates[t.Source]
	if !ok {
		return "", fmt.Errorf("unknown metric source %q", t.Source)
	}
	v := newVars(t, s)
	v.Quantile = contract.FormatNumber(quantile)
	v.StatusLabel = t.statusLabel()
	return render(set, name, v)
}

// podQuery renders a cAdvisor query (cpu, memory, load) or the alerts query.
func podQuery(t Target, name string, s side) (string, error) {
	return render(podTemplates, name, newVars(t, s))
}
