package sim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
)

// Config is the simulator's command line.
type Config struct {
	Kubeconfig string
	Listen     string
	Seed       int64
	Tick       time.Duration
}

// ParseFlags reads the command line; the seed defaults to the current time.
// The kubeconfig is required unless KUBECONFIG is set.
func ParseFlags(args []string) (Config, error) {
	fs := flag.NewFlagSet("rolloutd-sim", flag.ContinueOnError)
	var c Config
	fs.StringVar(&c.Kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "path to the kubeconfig (default $KUBECONFIG)")
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:9101", "address serving /metrics, /healthz and /debug/routes")
	fs.Int64Var(&c.Seed, "seed", time.Now().UnixNano(), "seed of the random source; the one used is logged first so a run replays")
	fs.DurationVar(&c.Tick, "tick", time.Second, "simulation step")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	switch {
	case fs.NArg() > 0:
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	case c.Kubeconfig == "":
		return Config{}, errors.New("--kubeconfig is required when KUBECONFIG is not set")
	case c.Tick <= 0:
		return Config{}, fmt.Errorf("--tick=%s: must be positive", c.Tick)
	}
	return c, nil
}

// Run simulates until ctx is done, then shuts the HTTP server down.
func Run(ctx context.Context, c Config, log *zap.Logger) error {
	clients, err := newClients(c.Kubeconfig)
	if err != nil {
		return err
	}
	w, err := NewWatcher(clients, 0, log)
	if err != nil {
		return err
	}
	metrics := NewMetrics()
	reg := prometheus.NewRegistry()
	if err := reg.Register(metrics); err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	engine := NewEngine(c.Seed, metrics)
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Listen, err)
	}
	srv := &http.Server{Handler: NewHandler(reg, engine, log), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("serving", zap.String("listen", ln.Addr().String()))

	runErr := simulate(ctx, w, engine, c.Tick, log)
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("shut down http server: %w", err))
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		runErr = errors.Join(runErr, fmt.Errorf("serve http: %w", err))
	}
	return runErr
}

// simulate syncs the caches, then steps the engine every tick until ctx is done.
func simulate(ctx context.Context, w *Watcher, e *Engine, tick time.Duration, log *zap.Logger) error {
	if err := w.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	log.Info("caches synced; simulating", zap.Duration("tick", tick))
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			log.Info("stopping")
			return nil
		case now := <-t.C:
			e.Step(w, now, tick)
		}
	}
}

func newClients(kubeconfig string) (Clients, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return Clients{}, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	// The clients share one config: what fails one fails all, so one error
	// names the kubeconfig.
	kube, errKube := kubernetes.NewForConfig(cfg)
	dyn, errDyn := dynamic.NewForConfig(cfg)
	disc, errDisc := discovery.NewDiscoveryClientForConfig(cfg)
	gw, errGW := gwclient.NewForConfig(cfg)
	if err := errors.Join(errKube, errDyn, errDisc, errGW); err != nil {
		return Clients{}, fmt.Errorf("clients of %s: %w", kubeconfig, err)
	}
	return Clients{Kube: kube, Dynamic: dyn, Discovery: disc, Gateway: gw}, nil
}
