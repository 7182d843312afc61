// Command evalbench measures what rolloutd's analysis costs the sandbox's real
// Prometheus, in one of two modes.
//
// -mode gate: queries sent and time per gate, with 1 and with many rollouts
// evaluated at once through one shared Analyzer (one bound on queries in flight,
// as in the daemon). It creates one namespace with a stable and a canary
// Deployment behind ingress-nginx-style Ingresses so the simulator produces both
// sides' series, points every synthetic rollout at those series, prints a Markdown
// table and deletes the namespace.
//
// -mode sampler: the daemon's shared analysis.Sampler with N rollouts under
// continuous judgement, each its own app with its own series (fleet.go): queries
// and series per tick, tick duration, the evidence rebuild of all N, Prometheus'
// CPU with and without the sampler, and this process's heap and RSS.
//
//	make sandbox && go run ./e2e/bench/eval --rollouts 1,500
//	make sandbox && go run ./e2e/bench/eval --mode sampler --rollouts 1,100,1000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/e2e/bench/harness"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

type config struct {
	mode                string
	ticks               int // sampler mode: ticks measured per size
	perNamespace        int // sampler mode: apps per namespace
	rps                 int // sampler mode: requests per second of each app
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
	fs.StringVar(&cfg.promURL, "prometheus", "", "Prometheus URL (empty: the sandbox's, from .sandbox/env)")
	fs.StringVar(&cfg.mode, "mode", "gate", "gate: the per-gate queries; sampler: the shared sampler's ticks")
	fs.IntVar(&cfg.ticks, "ticks", 12, "sampler mode: ticks measured per size (at the default 10s interval)")
	fs.IntVar(&cfg.perNamespace, "per-namespace", 10, "sampler mode: apps per namespace")
	fs.IntVar(&cfg.rps, "rps", 10, "sampler mode: simulated requests per second of each app")
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
	slices.Sort(cfg.rollouts)
	if cfg.workers < 1 || cfg.maxConcurrent < 1 || cfg.ticks < 1 || cfg.perNamespace < 1 || cfg.rps < 1 {
		return cfg, fmt.Errorf("want --workers, --max-concurrent, --ticks, --per-namespace and --rps >= 1")
	}
	if cfg.mode != "gate" && cfg.mode != "sampler" {
		return cfg, fmt.Errorf("--mode: %q is not gate or sampler", cfg.mode)
	}
	var err error
	if cfg.promURL == "" {
		cfg.promURL, err = harness.SandboxPrometheus()
	}
	return cfg, err
}

func run(ctx context.Context, cfg config) error {
	checks, err := contract.ParseChecks(cfg.checks)
	if err != nil {
		return err
	}
	// The sampler mode creates thousands of objects.
	_, kube, err := harness.Connect(cfg.kubeconfig, 200, 400)
	if err != nil {
		return err
	}
	pc, err := api.NewClient(api.Config{Address: cfg.promURL})
	if err != nil {
		return err
	}
	prom := promv1.NewAPI(pc)
	if cfg.mode == "sampler" {
		return runSampler(ctx, kube, prom, cfg, checks)
	}
	return runGates(ctx, kube, prom, cfg, checks)
}

// runGates is the gate mode.
func runGates(ctx context.Context, kube kubernetes.Interface, prom promv1.API, cfg config, checks []contract.Check) error {
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

// runSampler is the sampler mode: the fleet grows to each size in turn.
func runSampler(ctx context.Context, kube kubernetes.Interface, prom promv1.API, cfg config, checks []contract.Check) error {
	f, err := newFleet(ctx, kube, cfg.rollouts[len(cfg.rollouts)-1], cfg.perNamespace, cfg.rps)
	if !cfg.keep {
		defer f.cleanup()
	}
	if err != nil {
		return err
	}
	fmt.Printf("evalbench --mode sampler --rollouts %s --ticks %d --per-namespace %d --rps %d --max-concurrent %d --query-timeout %s --checks %q\n\n",
		joinInts(cfg.rollouts), cfg.ticks, cfg.perNamespace, cfg.rps, cfg.maxConcurrent, cfg.queryTimeout, cfg.checks)
	printSamplerHeader()
	for _, n := range cfg.rollouts {
		if err := f.grow(ctx, n); err != nil {
			return err
		}
		if err := f.waitForSeries(ctx, prom, n); err != nil {
			return err
		}
		row, err := measureSampler(ctx, prom, cfg, f, checks, n)
		if err != nil {
			return err
		}
		row.print()
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
