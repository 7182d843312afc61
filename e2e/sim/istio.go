package sim

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// VirtualService is the part of an Istio VirtualService the simulator keeps.
type VirtualService struct {
	metav1.ObjectMeta
	Hosts    []string
	HTTP     []HTTPRoute
	Problems []string
}

// HTTPRoute is one Istio http route: matches (any of), destinations, mirror.
type HTTPRoute struct {
	Name          string
	Match         []RequestMatch // empty matches every request
	Route         []Destination
	Mirror        *Destination
	MirrorPercent float64 // 0..100 of the requests copied to Mirror
}

// Destination is a route destination: a Service host, an optional
// DestinationRule subset and a weight.
type Destination struct {
	Host   string
	Subset string
	Weight int
}

// RequestMatch holds the conditions of one match block; all must hold.
type RequestMatch struct {
	Headers map[string]StringMatch
	URI     *StringMatch
	Method  *StringMatch
}

// StringMatch is Istio's exact / prefix / regex (RE2, whole string) match.
type StringMatch struct {
	Exact, Prefix string
	Regex         *regexp.Regexp
}

// Matches reports whether v satisfies the match.
func (m StringMatch) Matches(v string) bool {
	switch {
	case m.Regex != nil:
		return m.Regex.MatchString(v)
	case m.Prefix != "":
		return strings.HasPrefix(v, m.Prefix)
	default:
		return v == m.Exact
	}
}

// Matches reports whether the request satisfies every condition of the block.
func (m RequestMatch) Matches(req Request) bool {
	for name, sm := range m.Headers {
		v, ok := req.Get(name)
		if !ok || !sm.Matches(v) {
			return false
		}
	}
	if m.URI != nil && !m.URI.Matches(requestPath) {
		return false
	}
	return m.Method == nil || m.Method.Matches(requestMethod)
}

// RouteFor returns the first http route whose match accepts the request, the
// order Istio evaluates them in, or nil when none does (Istio answers 404).
func (vs *VirtualService) RouteFor(req Request) *HTTPRoute {
	for i := range vs.HTTP {
		r := &vs.HTTP[i]
		if len(r.Match) == 0 {
			return r
		}
		for _, m := range r.Match {
			if m.Matches(req) {
				return r
			}
		}
	}
	return nil
}

// Weights returns each destination's share of the route's requests. Istio
// requires weights adding to 100 with a lone destination defaulting to 100;
// the simulator normalises whatever it is given (equal shares if all are 0).
func (r *HTTPRoute) Weights() []float64 {
	out := make([]float64, len(r.Route))
	total := 0
	for _, d := range r.Route {
		total += max(0, d.Weight)
	}
	for i, d := range r.Route {
		if total == 0 {
			out[i] = 1 / float64(len(r.Route))
		} else {
			out[i] = float64(max(0, d.Weight)) / float64(total)
		}
	}
	return out
}

// ListsService reports whether the VirtualService's hosts name the Service.
func (vs *VirtualService) ListsService(namespace, name string) bool {
	for _, h := range vs.Hosts {
		if ns, n := ResolveHost(h, vs.Namespace); ns == namespace && n == name {
			return true
		}
	}
	return false
}

// ResolveHost turns a short name, "<svc>.<ns>", "<svc>.<ns>.svc" or FQDN into
// the Service's namespace and name, relative to the object's namespace.
func ResolveHost(host, namespace string) (string, string) {
	parts := strings.Split(strings.TrimSuffix(host, ".svc.cluster.local"), ".")
	switch {
	case len(parts) == 1:
		return namespace, parts[0]
	case len(parts) == 2 || (len(parts) == 3 && parts[2] == "svc"):
		return parts[1], parts[0]
	}
	return "", host
}

// DestinationRule is the part of an Istio DestinationRule the simulator keeps.
type DestinationRule struct {
	metav1.ObjectMeta
	Host     string
	Subsets  map[string]map[string]string
	Problems []string
}

// The specs as Istio's API spells them, decoded from unstructured objects.
type (
	vsSpec struct {
		Hosts []string        `json:"hosts"`
		HTTP  []httpRouteSpec `json:"http"`
	}
	httpRouteSpec struct {
		Name  string `json:"name"`
		Match []struct {
			Headers map[string]stringMatchSpec `json:"headers"`
			URI     *stringMatchSpec           `json:"uri"`
			Method  *stringMatchSpec           `json:"method"`
		} `json:"match"`
		Route []struct {
			Destination destinationSpec `json:"destination"`
			Weight      int             `json:"weight"`
		} `json:"route"`
		Mirror           *destinationSpec `json:"mirror"`
		MirrorPercentage *struct {
			Value float64 `json:"value"`
		} `json:"mirrorPercentage"`
	}
	stringMatchSpec struct {
		Exact  string `json:"exact"`
		Prefix string `json:"prefix"`
		Regex  string `json:"regex"`
	}
	destinationSpec struct {
		Host   string `json:"host"`
		Subset string `json:"subset"`
	}
	drSpec struct {
		Host    string `json:"host"`
		Subsets []struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"subsets"`
	}
)

// NewVirtualService decodes an unstructured VirtualService; parts it cannot
// read are left out and described in Problems.
func NewVirtualService(u *unstructured.Unstructured) *VirtualService {
	spec, problems := decodeSpec[vsSpec](u)
	vs := &VirtualService{ObjectMeta: unstructuredMeta(u), Hosts: spec.Hosts, Problems: problems}
	for _, h := range spec.HTTP {
		r, problems := compileRoute(h)
		vs.HTTP = append(vs.HTTP, r)
		vs.Problems = append(vs.Problems, problems...)
	}
	return vs
}

func compileRoute(h httpRouteSpec) (HTTPRoute, []string) {
	r := HTTPRoute{Name: h.Name}
	var problems []string
	compile := func(s *stringMatchSpec) *StringMatch {
		if s == nil {
			return nil
		}
		m := &StringMatch{Exact: s.Exact, Prefix: s.Prefix}
		if s.Regex != "" {
			re, err := regexp.Compile("^(?:" + s.Regex + ")$")
			if err != nil {
				problems = append(problems, fmt.Sprintf("route %q: regex %q: %v", h.Name, s.Regex, err))
				re = regexp.MustCompile(`$.^`) // matches nothing, like a rejected rule
			}
			m.Regex = re
		}
		return m
	}
	for _, mb := range h.Match {
		m := RequestMatch{URI: compile(mb.URI), Method: compile(mb.Method)}
		for name, s := range mb.Headers {
			if m.Headers == nil {
				m.Headers = map[string]StringMatch{}
			}
			m.Headers[strings.ToLower(name)] = *compile(&s)
		}
		r.Match = append(r.Match, m)
	}
	for _, d := range h.Route {
		r.Route = append(r.Route, Destination{Host: d.Destination.Host, Subset: d.Destination.Subset, Weight: d.Weight})
	}
	if h.Mirror != nil {
		r.Mirror = &Destination{Host: h.Mirror.Host, Subset: h.Mirror.Subset}
		r.MirrorPercent = 100 // Istio mirrors everything when no percentage is set
		if h.MirrorPercentage != nil {
			r.MirrorPercent = min(100, max(0, h.MirrorPercentage.Value))
		}
	}
	return r, problems
}

// NewDestinationRule decodes an unstructured DestinationRule.
func NewDestinationRule(u *unstructured.Unstructured) *DestinationRule {
	spec, problems := decodeSpec[drSpec](u)
	dr := &DestinationRule{ObjectMeta: unstructuredMeta(u), Host: spec.Host, Subsets: map[string]map[string]string{},
		Problems: problems}
	for _, s := range spec.Subsets {
		dr.Subsets[s.Name] = s.Labels
	}
	return dr
}

// decodeSpec reads u's spec as an S; one it cannot read is the zero S and the
// reason is the one problem returned.
func decodeSpec[S any](u *unstructured.Unstructured) (S, []string) {
	var spec S
	raw, err := json.Marshal(u.Object["spec"])
	if err != nil {
		return spec, []string{fmt.Sprintf("%s %s/%s: encode spec: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)}
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		var zero S
		return zero, []string{fmt.Sprintf("%s %s/%s: decode spec: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)}
	}
	return spec, nil
}

func unstructuredMeta(u *unstructured.Unstructured) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:              u.GetName(),
		Namespace:         u.GetNamespace(),
		UID:               u.GetUID(),
		ResourceVersion:   u.GetResourceVersion(),
		Labels:            u.GetLabels(),
		CreationTimestamp: u.GetCreationTimestamp(),
		DeletionTimestamp: u.GetDeletionTimestamp(),
	}
}
