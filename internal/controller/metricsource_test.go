package controller

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// recordingProm answers every query with no data and keeps the queries.
type recordingProm struct {
	promv1.API
	mu      sync.Mutex
	queries []string
}

func (p *recordingProm) Query(_ context.Context, q string, _ time.Time, _ ...promv1.Option) (model.Value, promv1.Warnings, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queries = append(p.queries, q)
	return model.Vector{}, nil, nil
}

func (p *recordingProm) QueryRange(_ context.Context, q string, _ promv1.Range, _ ...promv1.Option) (model.Value, promv1.Warnings, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queries = append(p.queries, q)
	return model.Matrix{}, nil, nil
}

func (p *recordingProm) sent() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.queries, "\n")
}

func TestGateQueriesReadTheMetricsOfTheRoutersSource(t *testing.T) {
	pods := `http_requests_total{namespace="shop",pod=~"web-canary-`
	mesh := `istio_requests_total{reporter="destination",destination_workload_namespace="shop",destination_workload="web-canary"}`
	ingress := `nginx_ingress_controller_requests{namespace="shop",ingress="web",canary!=""}`
	cases := []struct {
		name     string
		ann      []string
		want     contract.Source
		query    string   // a canary query that must be sent
		notQuery []string // metrics no query may read
	}{
		{"gateway reads the application's pods by default", []string{contract.KeyRouter, "gateway"},
			contract.SourceService, pods, []string{"istio_requests_total", "nginx_ingress"}},
		{"gateway on Istio reads Istio's standard metrics", []string{contract.KeyRouter, "gateway", contract.KeyMetricSource, "istio"},
			contract.SourceIstio, mesh, []string{"http_requests_total", "nginx_ingress"}},
		{"gateway, service said explicitly", []string{contract.KeyRouter, "gateway", contract.KeyMetricSource, "service"},
			contract.SourceService, pods, []string{"istio_requests_total"}},
		{"istio router reads the mesh", []string{contract.KeyRouter, "istio"}, contract.SourceIstio, mesh, []string{"http_requests_total"}},
		{"nginx router reads the ingress", []string{contract.KeyRouter, "nginx"}, contract.SourceNginx, ingress, []string{"istio_requests_total", "http_requests_total"}},
		{"service router reads the pods", nil, contract.SourceService, pods, []string{"istio_requests_total"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ann := optedIn(tc.ann...)
			sp, err := contract.Parse("web", ann)
			require.NoError(t, err)
			r := &rollout{d: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Annotations: ann}},
				spec: sp, now: t0}
			target := r.analysisTarget(strategy.Input{Spec: sp, Now: t0})
			require.Equal(t, tc.want, target.Source)

			p := &recordingProm{}
			res := analysis.NewAnalyzer(p, analysis.Options{QueryTimeout: time.Second}).
				Evaluate(context.Background(), target, sp.Checks)
			assert.NotEqual(t, contract.Pass, res.Verdict, "no data never passes")
			// A failed check ends the gate while other queries may still be in flight.
			assert.Eventually(t, func() bool { return strings.Contains(p.sent(), tc.query) }, 5*time.Second, time.Millisecond,
				"a query reading %s", tc.query)
			all := p.sent()
			for _, m := range tc.notQuery {
				assert.NotContains(t, all, m)
			}
		})
	}
}
