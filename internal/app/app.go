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
	"github.com/rolloutd/rolloutd/internal/config"
	"github.com/rolloutd/rolloutd/internal/controller"
	"github.com/rolloutd/rolloutd/internal/metrics"
	"github.com/rolloutd/rolloutd/internal/server"
)

// Run runs the daemon until ctx is cancelled.
func Run(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	streamingLists()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	kubeMetrics := metrics.NewKubeClient(reg)
	kubeMetrics.ObserveThrottle()
	restCfg, err := restConfig(cfg)
	if err != nil {
		return err
	}
	restCfg.WrapTransport = kubeMetrics.Wrap
	kube, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	gw, err := gwclient.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("gateway api client: %w", err)
	}
	promClient, err := api.NewClient(api.Config{Address: cfg.PrometheusURL})
	if err != nil {
		return fmt.Errorf("prometheus client for %s: %w", cfg.PrometheusURL, err)
	}
	inf, err := controller.NewInformers(kube, cfg.Namespaces, cfg.ResyncPeriod)
	if err != nil {
		return err
	}
	if istioWatchable(ctx, kube, cfg.Namespaces, log) {
		if err := inf.WatchIstio(dyn, cfg.Namespaces, cfg.ResyncPeriod); err != nil {
			return fmt.Errorf("istio informers: %w", err)
		}
	}
	if kinds := gatewayWatchable(ctx, kube, cfg.Namespaces, log); kinds.HTTP || kinds.GRPC {
		if err := inf.WatchGateway(gw, cfg.Namespaces, cfg.ResyncPeriod, kinds); err != nil {
			return fmt.Errorf("gateway api informers: %w", err)
		}
	}
	// Events and the leader Lease get clients of their own (each client has its
	// own QPS/burst budget): a burst of Events never holds back the writes that
	// move traffic, and busy workers never delay a Lease renewal.
	eventsKube, err := kubernetes.NewForConfig(rest.CopyConfig(restCfg))
	if err != nil {
		return fmt.Errorf("kubernetes client for events: %w", err)
	}
	leaseKube, err := kubernetes.NewForConfig(rest.CopyConfig(restCfg))
	if err != nil {
		return fmt.Errorf("kubernetes client for leader election: %w", err)
	}
	urgent, err := urgentClients(restCfg, cfg)
	if err != nil {
		return err
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: eventsKube.CoreV1().Events("")})
	defer broadcaster.Shutdown()

	notifier, err := startNotifier(cfg, reg, log)
	if err != nil {
		return err
	}
	var ctl *controller.Controller
	m := metrics.New(reg, func() int { return ctl.QueueLen() })
	analyzer := analysis.NewAnalyzer(promv1.NewAPI(promClient), analysis.Options{
		QueryTimeout: cfg.QueryTimeout, MaxConcurrent: cfg.MaxQueries, Logger: log.Named("analysis"),
		Registerer: reg, MinRequests: cfg.MinRequests, Judge: cfg.JudgeOptions(),
		StatusLabels: cfg.StatusLabelsBySource(),
	})
	sampler := analysis.NewSampler(analyzer, analysis.SamplerOptions{Interval: cfg.SampleInterval,
		Notify: func(ns, name string) { ctl.Enqueue(ns + "/" + name) }})
	opts := controller.Options{
		Kube:         kube,
		Informers:    inf,
		Analyzer:     analyzer,
		Sequential:   sampler,
		Routers:      routers(kube, dyn, gw),
		Recorder:     broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "rolloutd"}),
		Metrics:      m,
		Clock:        clock.RealClock{},
		Log:          log.Named("controller"),
		ReadyTimeout: cfg.DefaultReadyLimit,
		GateTimeout:  cfg.Gate(),
		UnreadyLimit: cfg.UnreadyLimit,
		Urgent:       urgent,
	}
	if notifier != nil {
		opts.Notifier = notifier
	}
	ctl, err = controller.New(opts)
	if err != nil {
		return err
	}

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
		return err
	}
	webhook, err := mountWebhook(cfg, srv, urgent.Kube, inf, reg, log)
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()
	log.Info("rolloutd started", zap.String("http", srv.Addr()), zap.String("prometheus", cfg.PrometheusURL),
		zap.Strings("namespaces", cfg.Namespaces), zap.Bool("leaderElection", cfg.LeaderElection()))

	runErr := runController(ctx, cfg, leaseKube, inf, func(ctx context.Context) {
		go sampler.Run(ctx) // only the leader judges, as only it acts
		ctl.Run(ctx, cfg.Workers)
	}, log)

	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	errs := []error{runErr}
	if err := srv.Shutdown(shutdownCtx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := <-serveErr; err != nil {
		errs = append(errs, err)
	}
	if webhook != nil {
		if err := webhook.Stop(shutdownCtx); err != nil {
			errs = append(errs, err)
		}
	}
	if notifier != nil {
		if err := notifier.Stop(shutdownCtx); err != nil {
			errs = append(errs, err)
		}
	}
	log.Info("rolloutd stopped")
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
