package app

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/rolloutd/rolloutd/internal/config"
	"github.com/rolloutd/rolloutd/internal/controller"
	"github.com/rolloutd/rolloutd/internal/server"
)

func TestWebhookIsMountedOnlyWithATokenFile(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(token, []byte("t0ken\n"), 0o600))
	tests := []struct {
		name      string
		tokenFile string
		noToken   int // answer to a POST without a token
		metrics   bool
	}{
		{"disabled without a token file", "", http.StatusNotFound, false},
		{"enabled with a token file", token, http.StatusUnauthorized, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kube := fake.NewClientset()
			inf, err := controller.NewInformers(kube, nil, 0)
			require.NoError(t, err)
			reg := prometheus.NewRegistry()
			srv := server.New("127.0.0.1:0", reg, func() error { return nil }, zap.NewNop())
			require.NoError(t, srv.Listen())
			rcv, err := mountWebhook(config.Config{WebhookTokenFile: tt.tokenFile}, srv, kube, inf, nil, reg, zap.NewNop())
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() { done <- srv.Serve() }()

			resp, err := http.Post("http://"+srv.Addr()+"/webhooks/alertmanager", "application/json", strings.NewReader(`{}`))
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Equal(t, tt.noToken, resp.StatusCode)

			require.NoError(t, srv.Shutdown(context.Background()))
			require.NoError(t, <-done)
			assert.Equal(t, tt.metrics, rcv != nil)
			if rcv != nil {
				require.NoError(t, rcv.Stop(context.Background()))
				mfs, err := reg.Gather()
				require.NoError(t, err)
				var names []string
				for _, mf := range mfs {
					names = append(names, mf.GetName())
				}
				assert.Contains(t, names, "rolloutd_webhook_requests_total")
			}
		})
	}
}

func TestUnreadableTokenFileStopsTheDaemonAtStart(t *testing.T) {
	kube := fake.NewClientset()
	inf, err := controller.NewInformers(kube, nil, 0)
	require.NoError(t, err)
	srv := server.New("127.0.0.1:0", prometheus.NewRegistry(), func() error { return nil }, zap.NewNop())
	_, err = mountWebhook(config.Config{WebhookTokenFile: filepath.Join(t.TempDir(), "missing")}, srv, kube, inf, nil,
		prometheus.NewRegistry(), zap.NewNop())
	assert.Error(t, err)
}
