package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/internal/config"
	"github.com/rolloutd/rolloutd/internal/controller"
	"github.com/rolloutd/rolloutd/internal/metrics"
	"github.com/rolloutd/rolloutd/internal/server"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Every metric the daemon serves on /metrics — its own, the analyzer's, the
// webhook's and the notifier's — follows Prometheus naming conventions.
func TestLiveMetricsEndpointPassesPromlint(t *testing.T) {
	dir := t.TempDir()
	token, hook := filepath.Join(dir, "token"), filepath.Join(dir, "hook")
	require.NoError(t, os.WriteFile(token, []byte("t0ken"), 0o600))
	require.NoError(t, os.WriteFile(hook, []byte("http://127.0.0.1:1/hook"), 0o600))
	cfg := config.Config{WebhookTokenFile: token, NotifyWebhookURLFile: hook, NotifyTimeout: 1, NotifyQueueSize: 1}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg, func() int { return 0 })
	kubeClient := metrics.NewKubeClient(reg)
	kubeClient.Requests.WithLabelValues("update", "deployments", "200").Inc()
	kubeClient.Throttle.Observe(0.01)
	m.Describe("shop", "web", metrics.Info{Revision: "r1", Strategy: "canary", Router: "nginx"})
	m.Observe("shop", "web", contract.Status{Phase: contract.Progressing, Weight: 10, Step: 1})
	client, err := api.NewClient(api.Config{Address: "http://127.0.0.1:1"})
	require.NoError(t, err)
	analysis.NewAnalyzer(promv1.NewAPI(client), analysis.Options{Registerer: reg})
	n, err := startNotifier(cfg, reg, zap.NewNop())
	require.NoError(t, err)
	defer func() { _ = n.Stop(context.Background()) }()
	kube := fake.NewClientset()
	inf, err := controller.NewInformers(kube, nil, 0)
	require.NoError(t, err)
	srv := server.New("127.0.0.1:0", reg, func() error { return nil }, zap.NewNop())
	require.NoError(t, srv.Listen())
	rcv, err := mountWebhook(cfg, srv, kube, inf, nil, reg, zap.NewNop())
	require.NoError(t, err)
	defer func() { _ = rcv.Stop(context.Background()) }()
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	defer func() { _ = srv.Shutdown(context.Background()); <-done }()

	resp, err := http.Get("http://" + srv.Addr() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, name := range []string{"rolloutd_rollout_info", "rolloutd_rollout_phase", "rolloutd_workqueue_depth",
		"rolloutd_notification_queue_length", "rolloutd_webhook_queue_length"} {
		assert.True(t, strings.Contains(string(body), "\n# TYPE "+name+" "), "%s not served", name)
	}
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	require.NoError(t, err)
	var own []string
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "rolloutd_") {
			own = append(own, p.Metric+": "+p.Text)
		}
	}
	assert.Empty(t, own, strings.Join(own, "\n"))
}
