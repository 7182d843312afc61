package sim

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// NewHandler serves /metrics from the registry, /healthz (503 until the
// engine's first step, so readiness means "simulating"), and /debug/routes
// with the engine's route statuses as JSON.
func NewHandler(reg *prometheus.Registry, e *Engine, log *zap.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: zap.NewStdLog(log)}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !e.Started() {
			http.Error(w, "starting: caches not synced yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/debug/routes", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(e.Routes()); err != nil {
			log.Warn("write /debug/routes", zap.Error(err))
		}
	})
	return mux
}
