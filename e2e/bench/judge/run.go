package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/e2e/sim"
)

type randSource = *rand.Rand

// mode is one way of deciding gates.
type mode struct {
	name       string
	opts       analysis.Options
	continuous bool // the daemon's continuous judgement between gates
}

// row aggregates the outcomes of one (scenario, rate, mode).
type row struct {
	scenario            string
	rate                float64
	mode                string
	trials              int
	rolledBack, within3 int
	promoted, undecided int
	gatesToRollback     int
	secondsToRollback   int
	secondsToPromotion  int
	deciding            map[string]int
}

type job struct{ s, r, i int }

// run plays every trial of every scenario and rate through both modes. Each
// trial's random source derives from the seed and the trial's coordinates, so
// results do not depend on scheduling.
func run(cfg config) []*row {
	modes := []mode{
		{"threshold", analysis.Options{MinRequests: cfg.minRequests}, false},
		{"judge", analysis.Options{MinRequests: cfg.minRequests, Judge: &analysis.JudgeOptions{Alpha: cfg.alpha}}, false},
		{"continuous", analysis.Options{MinRequests: cfg.minRequests}, true},
	}
	rows := map[[3]int]*row{}
	for si, s := range scenarios {
		for ri, r := range cfg.rates {
			for mi, m := range modes {
				rows[[3]int{si, ri, mi}] = &row{scenario: s.name, rate: r, mode: m.name, deciding: map[string]int{}}
			}
		}
	}
	var mu sync.Mutex
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				outs := playTrial(cfg, modes, j)
				mu.Lock()
				for mi, o := range outs {
					rows[[3]int{j.s, j.r, mi}].add(o)
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for si := range scenarios {
		for ri := range cfg.rates {
			for i := range cfg.trials {
				jobs <- job{si, ri, i}
			}
		}
		fmt.Fprintf(os.Stderr, "judgebench: %s done after %s\n", scenarios[si].name, time.Since(start).Round(time.Second))
	}
	close(jobs)
	wg.Wait()
	var out []*row
	for si := range scenarios {
		for ri := range cfg.rates {
			for mi := range modes {
				out = append(out, rows[[3]int{si, ri, mi}])
			}
		}
	}
	return out
}

// playTrial simulates one canary and plays it through each mode.
func playTrial(cfg config, modes []mode, j job) []outcome {
	seed := uint64(cfg.seed)*1_000_003 + uint64(j.s)*7_919_993 + uint64(j.r)*104_729 + uint64(j.i)
	canaryB, stableB := sim.DefaultBehaviour(), sim.DefaultBehaviour()
	scenarios[j.s].change(&canaryB)
	rate := cfg.rates[j.r]
	tr := &trial{
		rng:    sim.NewRand(int64(seed)),
		canary: newSide(canaryB, rate, 1, 0),
		stable: newSide(stableB, rate*cfg.stableRatio, 3, -24*60),
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]outcome, len(modes))
	for mi, m := range modes {
		f := &fakeProm{t0: t0, canary: tr.canary, stable: tr.stable}
		// One analyzer per trial, each reading its own series; they are cheap.
		play := rollout
		if m.continuous {
			play = continuousRollout
		}
		out[mi] = play(context.Background(), analysis.NewAnalyzer(f, m.opts), f, tr, cfg)
	}
	return out
}

func (r *row) add(o outcome) {
	r.trials++
	switch {
	case o.rolledBack:
		r.rolledBack++
		r.gatesToRollback += o.gates
		r.secondsToRollback += o.seconds
		if o.gates <= 3 {
			r.within3++
		}
		r.deciding[strings.Join(o.failed, "+")]++
	case o.promoted:
		r.promoted++
		r.secondsToPromotion += o.seconds
	default:
		r.undecided++
	}
}

func pct(n, d int) string { return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(max(d, 1))) }

func printHeader(cfg config) {
	fmt.Printf("judgebench --seed %d --trials %d --rates %s --interval %s --threshold %d --alpha %g --min-requests %g --stable-ratio %g --checks %q\n\n",
		cfg.seed, cfg.trials, joinRates(cfg.rates), cfg.interval, cfg.threshold, cfg.alpha, cfg.minRequests, cfg.stableRatio, cfg.checksText)
}

func joinRates(rs []float64) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprint(r))
	}
	return strings.Join(s, ",")
}

func printTable(rows []*row) {
	fmt.Println("| canary | canary rps | mode | rolled back | within 3 gates | mean gates to rollback | mean time to rollback | promoted | mean time to promotion | undecided | deciding checks |")
	fmt.Println("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rows {
		mean, tRoll, tProm := "—", "—", "—"
		if r.rolledBack > 0 {
			mean = fmt.Sprintf("%.2f", float64(r.gatesToRollback)/float64(r.rolledBack))
			tRoll = fmt.Sprintf("%.0fs", float64(r.secondsToRollback)/float64(r.rolledBack))
		}
		if r.promoted > 0 {
			tProm = fmt.Sprintf("%.0fs", float64(r.secondsToPromotion)/float64(r.promoted))
		}
		fmt.Printf("| %s | %g | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.scenario, r.rate, r.mode,
			pct(r.rolledBack, r.trials), pct(r.within3, r.trials), mean, tRoll, pct(r.promoted, r.trials), tProm,
			pct(r.undecided, r.trials), topChecks(r.deciding))
	}
}

// topChecks names the checks that failed the deciding gates, most frequent first.
func topChecks(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	var parts []string
	for _, k := range slices.Clip(keys)[:min(3, len(keys))] {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
