// Package server is the daemon's HTTP endpoint: Prometheus metrics, health and
// readiness probes, and (when enabled) the Alertmanager webhook. It uses its own
// ServeMux, never the default one.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// Server serves the daemon's HTTP endpoints.
type Server struct {
	mux  *http.ServeMux
	srv  *http.Server
	log  *zap.Logger
	lis  net.Listener
	addr string
}

// New builds the server; ready reports readiness for /readyz.
func New(addr string, gatherer prometheus.Gatherer, ready func() error, log *zap.Logger) *Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorLog: zap.NewStdLog(log)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return &Server{
		mux:  mux,
		log:  log,
		addr: addr,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute},
	}
}

// Handle adds a route (the webhook).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// EnableProfiling serves Go's runtime profiles under /debug/pprof/
// (ROLLOUTD_PPROF): heap, goroutines, 30 s CPU profiles. Off by default, as the
// profiles show the daemon's internals to anyone who can reach the port.
func (s *Server) EnableProfiling() {
	s.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	s.mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	s.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}

// Listen binds the address, so a busy port fails at start.
func (s *Server) Listen() error {
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w", s.addr, err)
	}
	s.lis = lis
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() string {
	if s.lis == nil {
		return s.addr
	}
	return s.lis.Addr().String()
}

// Serve serves until Shutdown; it returns nil on a clean shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// Shutdown stops accepting requests and waits for those in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
