// Package app wires the daemon together: clients, informers, analysis, routers,
// controller, HTTP server and leader election, and shuts them down in order.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/internal/alerts"
	"github.com/rolloutd/rolloutd/internal/config"
	"github.com/rolloutd/rolloutd/internal/controller"
	"github.com/rolloutd/rolloutd/internal/metrics"
	"github.com/rolloutd/rolloutd/internal/notify"
	"github.com/rolloutd/rolloutd/internal/server"
)

// Run runs the daemon until ctx is cancelled. Each step builds on the ones
// before it: config, clients, caches, analysis, controller, server, then the
// workers under leader election; shutdown stops them in the reverse order.
func Run(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	streamingLists()
	reg := newRegistry()
	cl, err := newClients(cfg, reg)
	if err != nil {
		return err
	}
	inf, err := newCaches(ctx, cfg, cl, log)
	if err != nil {
		return err
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cl.events.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	notifier, err := startNotifier(cfg, reg, log)
	if err != nil {
		return err
	}
	analyzer := newAnalyzer(cfg, cl.prom, reg, log)
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "rolloutd"})
	ctl, sampler, err := newController(cfg, cl, inf, analyzer, recorder, notifier, reg, log)
	if err != nil {
		return err
	}
	d, err := startServer(cfg, reg, inf, cl.urgent.Kube, ctl, log)
	if err != nil {
		return err
	}
	d.notifier = notifier
	log.Info("rolloutd started", zap.String("http", d.srv.Addr()), zap.String("prometheus", cfg.PrometheusURL),
		zap.Strings("namespaces", cfg.Namespaces), zap.Bool("leaderElection", cfg.LeaderElection()))
	runErr := runController(ctx, cfg, cl.lease, inf, func(ctx context.Context) {
		go sampler.Run(ctx) // only the leader judges, as only it acts
		ctl.Run(ctx, cfg.Workers)
	}, log)
	err = d.stop(cfg.ShutdownTimeout, runErr)
	log.Info("rolloutd stopped")
	return err
}

// newRegistry is the registry every metric of the daemon is served from.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// clients are the daemon's clients of the API server and of Prometheus.
type clients struct {
	rest *rest.Config
	kube kubernetes.Interface
	dyn  dynamic.Interface
	gw   gwclient.Interface
	prom api.Client
	// Events and the leader Lease get clients of their own (each client has its
	// own QPS/burst budget): a burst of Events never holds back the writes that
	// move traffic, and busy workers never delay a Lease renewal.
	events kubernetes.Interface
	lease  kubernetes.Interface
	urgent controller.Urgent
}

// newClients builds the clients, every API server request observed on reg.
func newClients(cfg config.Config, reg prometheus.Registerer) (clients, error) {
	kubeMetrics := metrics.NewKubeClient(reg)
	kubeMetrics.ObserveThrottle()
	restCfg, err := restConfig(cfg)
	if err != nil {
		return clients{}, err
	}
	restCfg.WrapTransport = kubeMetrics.Wrap
	cl := clients{rest: restCfg}
	if cl.kube, err = kubernetes.NewForConfig(restCfg); err != nil {
		return clients{}, fmt.Errorf("kubernetes client: %w", err)
	}
	if cl.dyn, err = dynamic.NewForConfig(restCfg); err != nil {
		return clients{}, fmt.Errorf("dynamic client: %w", err)
	}
	if cl.gw, err = gwclient.NewForConfig(restCfg); err != nil {
		return clients{}, fmt.Errorf("gateway api client: %w", err)
	}
	if cl.prom, err = api.NewClient(api.Config{Address: cfg.PrometheusURL}); err != nil {
		return clients{}, fmt.Errorf("prometheus client for %s: %w", cfg.PrometheusURL, err)
	}
	if cl.events, err = kubernetes.NewForConfig(rest.CopyConfig(restCfg)); err != nil {
		return clients{}, fmt.Errorf("kubernetes client for events: %w", err)
	}
	if cl.lease, err = kubernetes.NewForConfig(rest.CopyConfig(restCfg)); err != nil {
		return clients{}, fmt.Errorf("kubernetes client for leader election: %w", err)
	}
	if cl.urgent, err = urgentClients(restCfg, cfg); err != nil {
		return clients{}, err
	}
	return cl, nil
}

// newCaches builds the informers, with Istio's and the Gateway API's routes when
// their resources exist and may be watched.
func newCaches(ctx context.Context, cfg config.Config, cl clients, log *zap.Logger) (*controller.Informers, error) {
	inf, err := controller.NewInformers(cl.kube, cfg.Namespaces, cfg.ResyncPeriod)
	if err != nil {
		return nil, err
	}
	if istioWatchable(ctx, cl.kube, cfg.Namespaces, log) {
		if err := inf.WatchIstio(cl.dyn, cfg.Namespaces, cfg.ResyncPeriod); err != nil {
			return nil, fmt.Errorf("istio informers: %w", err)
		}
	}
	if kinds := gatewayWatchable(ctx, cl.kube, cfg.Namespaces, log); kinds.HTTP || kinds.GRPC {
		if err := inf.WatchGateway(cl.gw, cfg.Namespaces, cfg.ResyncPeriod, kinds); err != nil {
			return nil, fmt.Errorf("gateway api informers: %w", err)
		}
	}
	return inf, nil
}

// newAnalyzer is the Prometheus analysis every gate and the sampler query through.
func newAnalyzer(cfg config.Config, prom api.Client, reg prometheus.Registerer, log *zap.Logger) *analysis.Analyzer {
	return analysis.NewAnalyzer(promv1.NewAPI(prom), analysis.Options{
		QueryTimeout: cfg.QueryTimeout, MaxConcurrent: cfg.MaxQueries, Logger: log.Named("analysis"),
		Registerer: reg, MinRequests: cfg.MinRequests, Judge: cfg.JudgeOptions(),
		StatusLabels: cfg.StatusLabelsBySource(),
	})
}

// newController builds the controller, then the sampler that judges its canaries
// between gates and enqueues a rollout whose standing became conclusive.
func newController(cfg config.Config, cl clients, inf *controller.Informers, analyzer *analysis.Analyzer,
	recorder record.EventRecorder, notifier *notify.Notifier, reg prometheus.Registerer, log *zap.Logger,
) (*controller.Controller, *analysis.Sampler, error) {
	m := metrics.NewUnobserved(reg)
	opts := controller.Options{
		Kube:         cl.kube,
		Informers:    inf,
		Analyzer:     analyzer,
		Routers:      routers(cl.kube, cl.dyn, cl.gw),
		Recorder:     recorder,
		Metrics:      m,
		Clock:        clock.RealClock{},
		Log:          log.Named("controller"),
		ReadyTimeout: cfg.DefaultReadyLimit,
		GateTimeout:  cfg.Gate(),
		UnreadyLimit: cfg.UnreadyLimit,
		Standing:     cfg.StandingRefresh,
		Urgent:       cl.urgent,
	}
	if notifier != nil {
		opts.Notifier = notifier
	}
	ctl, err := controller.New(opts)
	if err != nil {
		return nil, nil, err
	}
	m.ObserveQueue(reg, ctl.QueueLen)
	sampler := analysis.NewSampler(analyzer, analysis.SamplerOptions{Interval: cfg.SampleInterval,
		Notify: func(ns, name string) { ctl.Enqueue(ns + "/" + name) }})
	ctl.Sequential = sampler
	return ctl, sampler, nil
}

// daemon holds what runs beside the workers and must be stopped after them.
type daemon struct {
	srv      *server.Server
	serveErr chan error
	webhook  *alerts.Receiver
	notifier *notify.Notifier
}

// startServer listens on the HTTP address and serves the metrics, the health
// endpoints and the Alertmanager webhook; ready once the caches synced.
func startServer(cfg config.Config, reg *prometheus.Registry, inf *controller.Informers, urgentKube kubernetes.Interface,
	handoff alerts.Handoff, log *zap.Logger) (*daemon, error) {
	srv := server.New(cfg.HTTPAddr, reg, func() error {
		if !inf.HasSynced() {
			return errors.New("informer caches not synced")
		}
		return nil
	}, log.Named("http"))
	if cfg.Pprof {
		srv.EnableProfiling()
	}
	if err := srv.Listen(); err != nil {
		return nil, err
	}
	webhook, err := mountWebhook(cfg, srv, urgentKube, inf, handoff, reg, log)
	if err != nil {
		return nil, err
	}
	d := &daemon{srv: srv, serveErr: make(chan error, 1), webhook: webhook}
	go func() { d.serveErr <- srv.Serve() }()
	return d, nil
}

// stop shuts the server, the webhook and the notifier down within timeout and
// joins their errors to runErr.
func (d *daemon) stop(timeout time.Duration, runErr error) error {
	shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errs := []error{runErr}
	if err := d.srv.Shutdown(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := <-d.serveErr; err != nil {
		errs = append(errs, err)
	}
	if d.webhook != nil {
		if err := d.webhook.Stop(shutdownCtx); err != nil {
			errs = append(errs, err)
		}
	}
	if d.notifier != nil {
		if err := d.notifier.Stop(shutdownCtx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// runController starts the informers and runs the workers, under leader election
// when enabled: every replica keeps warm caches, only the leader reconciles.
func runController(ctx context.Context, cfg config.Config, leaseKube kubernetes.Interface, inf *controller.Informers,
	run func(context.Context), log *zap.Logger) error {
	inf.Start(ctx)
	t0 := time.Now()
	if !inf.WaitForSync(ctx) {
		return ctx.Err()
	}
	log.Info("informer caches synced", zap.Duration("took", time.Since(t0)))
	if !cfg.LeaderElection() {
		run(ctx)
		return nil
	}
	return runElected(ctx, cfg, leaseKube, run, log)
}

func restConfig(cfg config.Config) (*rest.Config, error) {
	path := cfg.Kubeconfig
	if path == "" && !config.InCluster() {
		path = os.Getenv("KUBECONFIG")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubernetes config (kubeconfig %q): %w", path, err)
	}
	rc.QPS, rc.Burst = cfg.KubeQPS, cfg.KubeBurst
	rc.UserAgent = "rolloutd"
	return rc, nil
}
