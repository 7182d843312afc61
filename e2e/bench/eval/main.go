// Command evalbench measures what one gate costs against the sandbox's real
// Prometheus: queries sent and time per gate, with 1 and with many rollouts
// evaluated at once through one shared Analyzer (one bound on queries in flight,
// as in the daemon). It creates one namespace with a stable and a canary
// Deployment behind ingress-nginx-style Ingresses so the simulator produces both
// sides' series, points every synthetic rollout at those series, prints a Markdown
// table and deletes the namespace.
//
//	make sandbox && go run ./e2e/bench/eval --rollouts 1,500
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

type config struct {
	kubeconfig, promURL string
	rollouts            []int
	window              time.Duration
	maxConcurrent       int
	workers             int
	queryTimeout        time.Duration
	checks              string
	keep                bool
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "evalbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "evalbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("evalbench", flag.ContinueOnError)
	var cfg config
	fs.StringVar(&cfg.kubeconfig, "kubeconfig", ".sandbox/kubeconfig", "the sandbox's kubeconfig")
	fs.StringVar(&cfg.promURL, "prometheus", "http://127.0.0.1:9090", "the sandbox's Prometheus")
	rollouts := fs.String("rollouts", "1,500", "rollouts evaluated at once, comma-separated")
	fs.DurationVar(&cfg.window, "window", 30*time.Second, "each gate's window")
	fs.IntVar(&cfg.maxConcurrent, "max-concurrent", analysis.DefaultMaxConcurrent, "queries in flight (ROLLOUTD_MAX_CONCURRENT_QUERIES)")
	fs.IntVar(&cfg.workers, "workers", 8, "gates evaluated in parallel (ROLLOUTD_WORKERS)")
	fs.DurationVar(&cfg.queryTimeout, "query-timeout", 5*time.Second, "timeout of one query (ROLLOUTD_QUERY_TIMEOUT)")
	fs.StringVar(&cfg.checks, "checks", contract.DefaultChecks+", latency-p99<=1.5x", "rolloutd.io/checks")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the namespace afterwards")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	for _, s := range strings.Split(*rollouts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return cfg, fmt.Errorf("--rollouts: %q is not a positive count", s)
		}
		cfg.rollouts = append(cfg.rollouts, n)
	}
	if cfg.workers < 1 || cfg.maxConcurrent < 1 {
		return cfg, fmt.Errorf("want --workers and --max-concurrent >= 1")
	}
	return cfg, nil
}

func run(ctx context.Context, cfg config) error {
	checks, err := contract.ParseChecks(cfg.checks)
	if err != nil {
		return err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", cfg.kubeconfig, err)
	}
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	pc, err := api.NewClient(api.Config{Address: cfg.promURL})
	if err != nil {
		return err
	}
	prom := promv1.NewAPI(pc)
	w, err := deploy(ctx, kube)
	if !cfg.keep {
		defer w.cleanup(kube)
	}
	if err != nil {
		return err
	}
	if err := w.waitForSeries(ctx, prom, cfg.window); err != nil {
		return err
	}
	fmt.Printf("evalbench --rollouts %s --window %s --workers %d --max-concurrent %d --query-timeout %s --checks %q (namespace %s)\n\n",
		joinInts(cfg.rollouts), cfg.window, cfg.workers, cfg.maxConcurrent, cfg.queryTimeout, cfg.checks, w.ns)
	printHeader()
	for _, judge := range []bool{false, true} {
		for _, n := range cfg.rollouts {
			r := measure(ctx, prom, cfg, w.target(cfg.window), checks, n, judge)
			r.print()
		}
	}
	return nil
}

func joinInts(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, strconv.Itoa(x))
	}
	return strings.Join(s, ",")
}
