package metrics

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	clientmetrics "k8s.io/client-go/tools/metrics"
)

// KubeClient counts the daemon's own Kubernetes API requests by verb, resource and
// status code, and how long requests waited for the client-side rate limit
// (ROLLOUTD_KUBE_QPS / ROLLOUTD_KUBE_BURST).
type KubeClient struct {
	Requests *prometheus.CounterVec
	Throttle prometheus.Histogram
}

// NewKubeClient registers the API client metrics on reg.
func NewKubeClient(reg prometheus.Registerer) *KubeClient {
	f := promauto.With(reg)
	return &KubeClient{
		Requests: f.NewCounterVec(prometheus.CounterOpts{Name: "rolloutd_kube_requests_total",
			Help: "Kubernetes API requests made by the daemon, by verb (get, list, watch, create, update, patch, delete), resource and HTTP status code."},
			[]string{"verb", "resource", "code"}),
		Throttle: f.NewHistogram(prometheus.HistogramOpts{Name: "rolloutd_kube_client_throttle_seconds",
			Help:    "Time API requests waited for the client-side rate limit (ROLLOUTD_KUBE_QPS, ROLLOUTD_KUBE_BURST).",
			Buckets: []float64{.001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10}}),
	}
}

// Wrap returns rt counting every request it carries; it suits rest.Config's
// WrapTransport.
func (k *KubeClient) Wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper{next: rt, k: k}
}

var registerThrottle sync.Once

// ObserveThrottle hooks the rate-limit wait histogram into client-go. client-go
// keeps one process-wide hook, so only the first call takes effect.
func (k *KubeClient) ObserveThrottle() {
	registerThrottle.Do(func() {
		clientmetrics.Register(clientmetrics.RegisterOpts{RateLimiterLatency: throttleObserver{k.Throttle}})
	})
}

type throttleObserver struct{ h prometheus.Histogram }

func (o throttleObserver) Observe(_ context.Context, _ string, _ url.URL, d time.Duration) {
	o.h.Observe(d.Seconds())
}

type roundTripper struct {
	next http.RoundTripper
	k    *KubeClient
}

func (r roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	verb, resource := RequestKind(req.Method, req.URL)
	resp, err := r.next.RoundTrip(req)
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	r.k.Requests.WithLabelValues(verb, resource, code).Inc()
	return resp, err
}

// RequestKind names a Kubernetes API request: its verb in the API's sense (a GET
// of a collection is list, or watch with ?watch=true) and the resource it acts on
// ("deployments", "deployments/status", "leases"); "other" for paths outside
// /api and /apis.
func RequestKind(method string, u *url.URL) (verb, resource string) {
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	// /api/v1/... or /apis/<group>/<version>/...
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return strings.ToLower(method), "other"
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) != 2 {
		parts = parts[2:] // a namespaced resource, not the namespace itself
	}
	named := len(parts) >= 2
	if len(parts) == 0 {
		return strings.ToLower(method), "other"
	}
	resource = parts[0]
	if len(parts) >= 3 {
		resource += "/" + parts[2]
	}
	switch method {
	case http.MethodGet:
		switch {
		case u.Query().Get("watch") == "true" || u.Query().Get("watch") == "1":
			return "watch", resource
		case named:
			return "get", resource
		}
		return "list", resource
	case http.MethodPost:
		return "create", resource
	case http.MethodPut:
		return "update", resource
	}
	return strings.ToLower(method), resource
}
