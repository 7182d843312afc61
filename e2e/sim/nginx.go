package sim

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ingress-nginx canary annotations, spelled here as ingress-nginx documents them
// rather than imported from router/: a key the router misspells then fails the
// scenarios instead of being read back the same wrong way.
const (
	nginxPrefix           = "nginx.ingress.kubernetes.io/"
	annoCanary            = nginxPrefix + "canary"
	annoByHeader          = nginxPrefix + "canary-by-header"
	annoByHeaderValue     = nginxPrefix + "canary-by-header-value"
	annoByHeaderPattern   = nginxPrefix + "canary-by-header-pattern"
	annoByCookie          = nginxPrefix + "canary-by-cookie"
	annoCanaryWeight      = nginxPrefix + "canary-weight"
	annoCanaryWeightTotal = nginxPrefix + "canary-weight-total"
)

// Ingress is the part of a networking/v1 Ingress the simulator keeps.
type Ingress struct {
	metav1.ObjectMeta
	Canary   *CanaryPolicy // nil for a main (non-canary) Ingress
	Paths    []IngressPath
	Problems []string
}

// IngressPath is one host+path rule and the Service port it proxies to.
type IngressPath struct {
	Host, Path string
	Service    string
	Port       string // number or name, as ingress-nginx names the upstream
}

// CanaryPolicy is the traffic shaping of a canary Ingress.
type CanaryPolicy struct {
	Header        string
	HeaderValue   string
	HeaderPattern *regexp.Regexp
	Cookie        string
	Weight        int
	WeightTotal   int
}

// NewIngress keeps what the simulator needs from an Ingress.
func NewIngress(ing *networkingv1.Ingress) *Ingress {
	out := &Ingress{ObjectMeta: slimMeta(ing.ObjectMeta)}
	if ing.Annotations[annoCanary] == "true" {
		out.Canary, out.Problems = parseCanary(ing.Annotations)
	}
	if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil {
		out.Paths = append(out.Paths, IngressPath{Path: "/", Service: b.Service.Name, Port: portName(b.Service.Port)})
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			if p.Backend.Service == nil {
				continue
			}
			path := p.Path
			if path == "" {
				path = "/"
			}
			out.Paths = append(out.Paths, IngressPath{
				Host: rule.Host, Path: path,
				Service: p.Backend.Service.Name, Port: portName(p.Backend.Service.Port),
			})
		}
	}
	return out
}

func portName(p networkingv1.ServiceBackendPort) string {
	if p.Name != "" {
		return p.Name
	}
	return strconv.Itoa(int(p.Number))
}

func parseCanary(ann map[string]string) (*CanaryPolicy, []string) {
	c := &CanaryPolicy{
		Header:      strings.ToLower(ann[annoByHeader]),
		HeaderValue: ann[annoByHeaderValue],
		Cookie:      ann[annoByCookie],
		WeightTotal: 100,
	}
	var problems []string
	if p := ann[annoByHeaderPattern]; p != "" {
		re, err := regexp.Compile(p)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s=%q: %v; ignored", annoByHeaderPattern, p, err))
		}
		c.HeaderPattern = re
	}
	for key, dst := range map[string]*int{annoCanaryWeight: &c.Weight, annoCanaryWeightTotal: &c.WeightTotal} {
		v, ok := ann[key]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			problems = append(problems, fmt.Sprintf("%s=%q: want a non-negative integer; ignored", key, v))
			continue
		}
		*dst = n
	}
	sort.Strings(problems)
	return c, problems
}

// CanaryShare is the probability that ingress-nginx sends the request to the
// canary backend. Precedence as in ingress-nginx: canary-by-header, then
// canary-by-cookie, then canary-weight; a header or cookie that decides
// gives 0 or 1, anything else falls through to the weight.
func (c *CanaryPolicy) CanaryShare(req Request) float64 {
	if decided, canary := c.byHeader(req); decided {
		return boolShare(canary)
	}
	if c.Cookie != "" {
		switch v, _ := req.GetCookie(c.Cookie); v {
		case "always":
			return 1
		case "never":
			return 0
		}
	}
	// ingress-nginx only honours a total above the default of 100.
	total := max(100, c.WeightTotal)
	return float64(min(c.Weight, total)) / float64(total)
}

// byHeader applies canary-by-header: with a value (or else a pattern) set only
// a match decides (for the canary); without, "always" and "never" decide.
func (c *CanaryPolicy) byHeader(req Request) (decided, canary bool) {
	if c.Header == "" {
		return false, false
	}
	v, ok := req.Get(c.Header)
	if !ok {
		return false, false
	}
	switch {
	case c.HeaderValue != "":
		return v == c.HeaderValue, true
	case c.HeaderPattern != nil:
		return c.HeaderPattern.MatchString(v), true
	case v == "always":
		return true, true
	case v == "never":
		return true, false
	}
	return false, false
}

func boolShare(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// NginxRoute is how ingress-nginx reaches an entry Service: the main
// Ingress rule and, when one exists, the canary Ingress for the same host+path.
type NginxRoute struct {
	Main       *Ingress
	Path       IngressPath
	Canary     *Ingress
	CanaryPath IngressPath
}

// FindNginxRoute finds the first main Ingress (by name) with a rule whose
// backend is the Service, and the first canary Ingress with the same
// host and path. It reports false when no main Ingress routes to the Service.
func FindNginxRoute(ingresses []*Ingress, service string) (NginxRoute, bool) {
	r, ok := NginxRoutes(ingresses)[service]
	return r, ok
}

// NginxRoutes indexes a namespace's Ingresses by backend Service in one
// pass, with FindNginxRoute's choice for every Service a main Ingress routes to.
func NginxRoutes(ingresses []*Ingress) map[string]NginxRoute {
	sorted := append([]*Ingress(nil), ingresses...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	type hostPath struct{ host, path string }
	canaries := map[hostPath]NginxRoute{}
	for _, ing := range sorted {
		if ing.Canary == nil || ing.DeletionTimestamp != nil {
			continue
		}
		for _, p := range ing.Paths {
			if _, seen := canaries[hostPath{p.Host, p.Path}]; !seen {
				canaries[hostPath{p.Host, p.Path}] = NginxRoute{Canary: ing, CanaryPath: p}
			}
		}
	}
	out := map[string]NginxRoute{}
	for _, ing := range sorted {
		if ing.Canary != nil || ing.DeletionTimestamp != nil {
			continue
		}
		for _, p := range ing.Paths {
			if _, seen := out[p.Service]; seen {
				continue
			}
			r := canaries[hostPath{p.Host, p.Path}]
			r.Main, r.Path = ing, p
			out[p.Service] = r
		}
	}
	return out
}

// CanaryShare is the probability that the request reaches the canary backend.
func (r NginxRoute) CanaryShare(req Request) float64 {
	if r.Canary == nil {
		return 0
	}
	return r.Canary.Canary.CanaryShare(req)
}

// CanaryUpstream is the ingress-nginx upstream name of the canary backend,
// "<namespace>-<service>-<port>", the value of the canary label.
func (r NginxRoute) CanaryUpstream() string {
	if r.Canary == nil {
		return ""
	}
	return r.Canary.Namespace + "-" + r.CanaryPath.Service + "-" + r.CanaryPath.Port
}
