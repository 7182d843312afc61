// Command judgebench measures how well rolloutd's gates tell a bad canary from
// noise. It draws simulated canaries from the sandbox simulator's noise model
// (e2e/sim), healthy and bad, at several canary request rates, plays each through
// a rollout with the real analysis code reading a fake Prometheus API that
// answers from the simulated series — with plain thresholds at every gate, with
// the statistical judge, and as the daemon judges canaries continuously (its own
// analysis.Sampler) — and prints a Markdown table: false rollbacks of healthy
// canaries, the share of bad ones rolled back before promotion, the time from
// the canary's first traffic to the rollback, and the time to promotion.
//
//	go run ./e2e/bench/judge --seed 1 --trials 200 --workers 2
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/e2e/sim"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// config is what every trial shares.
type config struct {
	seed        int64
	trials      int
	rates       []float64
	interval    time.Duration
	steps       int
	threshold   int
	maxGates    int
	checksText  string
	checks      []contract.Check
	alpha       float64
	minRequests float64
	stableRatio float64
	workers     int
	modes       []mode
	scenarios   []int // indices in scenarios: the trials' seeds depend on them
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "judgebench:", err)
		os.Exit(2)
	}
	printHeader(cfg)
	rows, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	printTable(rows, time.Duration(cfg.steps)*cfg.interval)
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("judgebench", flag.ContinueOnError)
	cfg := config{steps: 5}
	fs.Int64Var(&cfg.seed, "seed", time.Now().UnixNano()%1_000_000, "random seed (printed; pass it back to replay)")
	fs.IntVar(&cfg.trials, "trials", 1000, "simulated canaries per behaviour and rate")
	rates := fs.String("rates", "2,20,200", "canary request rates per second, comma-separated")
	fs.DurationVar(&cfg.interval, "interval", time.Minute, "rolloutd.io/interval: each gate's window")
	fs.IntVar(&cfg.threshold, "threshold", 2, "rolloutd.io/threshold: failed gates tolerated")
	fs.IntVar(&cfg.maxGates, "max-gates", 15, "gates after which an undecided rollout is counted as such")
	fs.StringVar(&cfg.checksText, "checks", contract.DefaultChecks+", latency-p99<=1.5x", "rolloutd.io/checks")
	fs.Float64Var(&cfg.alpha, "alpha", 0.05, "judge: significance of each one-sided Mann-Whitney test")
	fs.Float64Var(&cfg.minRequests, "min-requests", analysis.DefaultMinRequests, "canary requests a window needs for request checks")
	fs.Float64Var(&cfg.stableRatio, "stable-ratio", 4, "stable request rate as a multiple of the canary's")
	fs.IntVar(&cfg.workers, "workers", runtime.GOMAXPROCS(0), "trials simulated in parallel")
	modes := fs.String("modes", "threshold,continuous", "ways of deciding, comma-separated: threshold, judge, continuous")
	only := fs.String("scenarios", "", "scenarios to play, comma-separated names (empty: all)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	var err error
	if cfg.modes, err = parseModes(*modes, cfg); err != nil {
		return cfg, err
	}
	if cfg.scenarios, err = parseScenarios(*only); err != nil {
		return cfg, err
	}
	for _, r := range strings.Split(*rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 {
			return cfg, fmt.Errorf("--rates: %q is not a positive number", r)
		}
		cfg.rates = append(cfg.rates, v)
	}
	if cfg.checks, err = contract.ParseChecks(cfg.checksText); err != nil {
		return cfg, fmt.Errorf("--checks: %w", err)
	}
	if cfg.trials < 1 || cfg.workers < 1 || cfg.interval < 10*time.Second {
		return cfg, fmt.Errorf("want --trials and --workers >= 1 and --interval >= 10s")
	}
	return cfg, nil
}

// scenario is one kind of canary: the base behaviour changed.
type scenario struct {
	name   string
	change func(*sim.Behaviour)
}

// baseBehaviour is the healthy version both sides start from: the simulator's
// defaults, CPU-bound as e2e/resources_test.go's service (0.02 cores idle plus
// 0.01 core-seconds per request served, sim.rolloutd.io/cpu-per-request), so
// that per-pod CPU follows the traffic a pod serves.
func baseBehaviour() sim.Behaviour {
	b := sim.DefaultBehaviour()
	b.CPU, b.CPUPerRequest = 0.02, 0.01
	return b
}

var scenarios = []scenario{
	{"healthy", func(*sim.Behaviour) {}},
	{"errors 100%", func(b *sim.Behaviour) { b.ErrorRate = 1 }},
	{"errors 10x baseline", func(b *sim.Behaviour) { b.ErrorRate *= 10 }},
	{"errors +2 points", func(b *sim.Behaviour) { b.ErrorRate += 0.02 }},
	{"p99 latency x2", func(b *sim.Behaviour) { b.LatencyP99 *= 2 }},
	{"cpu +50% per request", func(b *sim.Behaviour) { b.CPUPerRequest *= 1.5 }},
	{"memory leak 5%/min", func(b *sim.Behaviour) { b.MemoryGrowth = 0.05 * b.Memory }},
	{"load +40%", func(b *sim.Behaviour) { b.Load *= 1.4 }},
	{"load +80%", func(b *sim.Behaviour) { b.Load *= 1.8 }},
}

// parseScenarios picks scenarios by name.
func parseScenarios(list string) ([]int, error) {
	var out []int
	for i := range scenarios {
		if list == "" {
			out = append(out, i)
		}
	}
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == n })
		if i < 0 {
			return nil, fmt.Errorf("--scenarios: no scenario %q", n)
		}
		out = append(out, i)
	}
	return out, nil
}

// parseModes picks the ways of deciding to play every trial through.
func parseModes(list string, cfg config) ([]mode, error) {
	all := map[string]mode{
		"threshold":  {name: "threshold", opts: analysis.Options{MinRequests: cfg.minRequests}},
		"judge":      {name: "judge", opts: analysis.Options{MinRequests: cfg.minRequests, Judge: &analysis.JudgeOptions{Alpha: cfg.alpha}}},
		"continuous": {name: "continuous", opts: analysis.Options{MinRequests: cfg.minRequests}, continuous: true},
	}
	var out []mode
	for _, n := range strings.Split(list, ",") {
		m, ok := all[strings.TrimSpace(n)]
		if !ok {
			return nil, fmt.Errorf("--modes: %q is not threshold, judge or continuous", n)
		}
		out = append(out, m)
	}
	return out, nil
}

// trial is one simulated canary with its stable baseline.
type trial struct {
	mu             sync.Mutex
	canary, stable *side
	rng            randSource
}

func (t *trial) extend(sec int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.canary.extend(t.rng, sec)
	t.stable.extend(t.rng, sec)
}
