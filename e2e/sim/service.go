package sim

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Service annotations that shape the simulated traffic entering it.
const (
	AnnotationRPS            = "sim.rolloutd.io/rps"
	AnnotationRequestHeaders = "sim.rolloutd.io/request-headers"
	AnnotationRequestCookies = "sim.rolloutd.io/request-cookies"

	defaultRPS     = 20
	labelManagedBy = "app.kubernetes.io/managed-by"
	managedByValue = "rolloutd"
)

// Service is the part of a Kubernetes Service the simulator keeps.
type Service struct {
	metav1.ObjectMeta
	Selector map[string]string
	Traffic  Traffic
	Problems []string
}

// IsEntry reports whether the Service receives generated user traffic:
// user Services with a selector, outside kube-system, and not the canary
// Services rolloutd generates (those are reached only through routing).
func (s *Service) IsEntry() bool {
	switch {
	case len(s.Selector) == 0, s.Namespace == "kube-system":
		return false
	case s.Namespace == "default" && s.Name == "kubernetes":
		return false
	case s.Labels[labelManagedBy] == managedByValue:
		return false
	}
	return s.Traffic.RPS > 0
}

// FQDN is the Service's cluster DNS name, as Istio reports it.
func (s *Service) FQDN() string {
	return s.Name + "." + s.Namespace + ".svc.cluster.local"
}

// NewService keeps what the simulator needs from a Service.
func NewService(svc *corev1.Service) *Service {
	t, problems := ParseTraffic(svc.Annotations)
	return &Service{
		ObjectMeta: slimMeta(svc.ObjectMeta),
		Selector:   svc.Spec.Selector,
		Traffic:    t,
		Problems:   problems,
	}
}

// Traffic is the request stream generated for an entry Service.
type Traffic struct {
	RPS     float64
	Headers []Share // mutually exclusive: a request carries at most one
	Cookies []Share // mutually exclusive, independent of the header
}

// Share is a header or cookie carried by a share of the requests.
type Share struct {
	Name, Value string
	Share       float64
}

// ParseTraffic reads a Service's traffic annotations; invalid values fall
// back to their defaults and are described in the returned problems.
func ParseTraffic(ann map[string]string) (Traffic, []string) {
	t := Traffic{RPS: defaultRPS}
	var problems []string
	if v, ok := ann[AnnotationRPS]; ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			problems = append(problems, fmt.Sprintf("%s=%q: want a non-negative number; using %d", AnnotationRPS, v, defaultRPS))
		} else {
			t.RPS = f
		}
	}
	var err error
	if t.Headers, err = parseShares(ann[AnnotationRequestHeaders], true); err != nil {
		problems = append(problems, fmt.Sprintf("%s: %v; sending no headers", AnnotationRequestHeaders, err))
	}
	if t.Cookies, err = parseShares(ann[AnnotationRequestCookies], false); err != nil {
		problems = append(problems, fmt.Sprintf("%s: %v; sending no cookies", AnnotationRequestCookies, err))
	}
	return t, problems
}

// parseShares reads "name=value:share,..." with shares adding up to at most 1.
func parseShares(v string, lowerName bool) ([]Share, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out []Share
	total := 0.0
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		eq, colon := strings.Index(item, "="), strings.LastIndex(item, ":")
		if eq <= 0 || colon < eq {
			return nil, fmt.Errorf("%q: want name=value:share", item)
		}
		f, err := strconv.ParseFloat(item[colon+1:], 64)
		if err != nil || f < 0 || f > 1 {
			return nil, fmt.Errorf("%q: share must be a number in 0..1", item)
		}
		name := strings.TrimSpace(item[:eq])
		if lowerName {
			name = strings.ToLower(name)
		}
		out = append(out, Share{Name: name, Value: item[eq+1 : colon], Share: f})
		total += f
	}
	if total > 1+1e-9 {
		return nil, fmt.Errorf("shares add up to %g, more than 1", total)
	}
	return out, nil
}

// Request is the routing-relevant part of one simulated request: path and
// method are fixed, a request carries at most one extra header and one cookie.
type Request struct {
	Header, HeaderValue string // lower-case header name, "" for none
	Cookie, CookieValue string // "" for none
}

// Path and method of every simulated request.
const (
	requestPath   = "/"
	requestMethod = "GET"
)

// Get returns the request's value of a header, including "cookie",
// the way a proxy sees it.
func (r Request) Get(name string) (string, bool) {
	name = strings.ToLower(name)
	switch {
	case r.Header != "" && name == r.Header:
		return r.HeaderValue, true
	case r.Cookie != "" && name == "cookie":
		return r.Cookie + "=" + r.CookieValue, true
	}
	return "", false
}

// GetCookie returns the value of a cookie the request carries.
func (r Request) GetCookie(name string) (string, bool) {
	if r.Cookie != "" && r.Cookie == name {
		return r.CookieValue, true
	}
	return "", false
}

// Class is a kind of request with the share of the traffic it makes up.
type Class struct {
	Request Request
	Share   float64
}

// Classes lists the distinct requests of the stream with their shares,
// which add up to 1.
func (t Traffic) Classes() []Class {
	var out []Class
	for _, h := range withNone(t.Headers) {
		for _, c := range withNone(t.Cookies) {
			share := h.Share * c.Share
			if share <= 0 {
				continue
			}
			out = append(out, Class{
				Request: Request{Header: h.Name, HeaderValue: h.Value, Cookie: c.Name, CookieValue: c.Value},
				Share:   share,
			})
		}
	}
	return out
}

// withNone prepends the "carries none of these" option with the remaining share.
func withNone(shares []Share) []Share {
	rest := 1.0
	for _, s := range shares {
		rest -= s.Share
	}
	return append([]Share{{Share: math.Max(0, rest)}}, shares...)
}

// slimMeta keeps only the metadata the simulator reads, to keep the cache small.
func slimMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:              m.Name,
		Namespace:         m.Namespace,
		UID:               m.UID,
		ResourceVersion:   m.ResourceVersion,
		Labels:            m.Labels,
		CreationTimestamp: m.CreationTimestamp,
		DeletionTimestamp: m.DeletionTimestamp,
	}
}
