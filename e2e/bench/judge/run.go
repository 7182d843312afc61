package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/e2e/sim"
)

type randSource = *rand.Rand

// preRollout is how far before the rollout's start the sampler reads the
// stable's resources (analysis: the stable's fit for the same work), so the
// stable's series begin that early.
const preRollout = 5 * time.Minute

// mode is one way of deciding gates.
type mode struct {
	name       string
	opts       analysis.Options
	continuous bool // the daemon's continuous judgement between gates
}

type job struct{ s, r, i int }

// run plays every trial of every scenario and rate through every mode. Each
// trial's random source derives from the seed and the trial's coordinates, so
// results do not depend on scheduling.
func run(cfg config) ([]*row, error) {
	rows := map[[3]int]*row{}
	var out []*row
	for _, si := range cfg.scenarios {
		s := scenarios[si]
		for ri, r := range cfg.rates {
			for mi, m := range cfg.modes {
				rw := &row{scenario: s.name, rate: r, mode: m.name, deciding: map[string]int{}}
				rows[[3]int{si, ri, mi}] = rw
				out = append(out, rw)
			}
		}
	}
	var mu sync.Mutex
	var firstErr error
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				outs, err := playTrial(cfg, j)
				mu.Lock()
				for mi, o := range outs {
					rows[[3]int{j.s, j.r, mi}].add(o)
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for _, si := range cfg.scenarios {
		for ri := range cfg.rates {
			for i := range cfg.trials {
				jobs <- job{si, ri, i}
			}
		}
		fmt.Fprintf(os.Stderr, "judgebench: %s done after %s\n", scenarios[si].name, time.Since(start).Round(time.Second))
	}
	close(jobs)
	wg.Wait()
	return out, firstErr
}

// newTrial is one canary (1 pod at rate requests/s) with its stable (3 pods at
// stableRatio times that; before the rollout began they served the canary's
// share too).
func newTrial(canary, stable sim.Behaviour, rate float64, cfg config, seed int64) *trial {
	st := newSide(stable, rate*cfg.stableRatio, 3, -24*60)
	st.preRPS = rate * (cfg.stableRatio + 1)
	st.setOrigin(-int(preRollout / time.Second))
	return &trial{rng: sim.NewRand(seed), canary: newSide(canary, rate, 1, 0), stable: st}
}

// playTrial simulates one canary and plays it through each mode.
func playTrial(cfg config, j job) ([]outcome, error) {
	seed := uint64(cfg.seed)*1_000_003 + uint64(j.s)*7_919_993 + uint64(j.r)*104_729 + uint64(j.i)
	canaryB, stableB := baseBehaviour(), baseBehaviour()
	scenarios[j.s].change(&canaryB)
	tr := newTrial(canaryB, stableB, cfg.rates[j.r], cfg, int64(seed))
	out := make([]outcome, len(cfg.modes))
	for mi, m := range cfg.modes {
		f := &fakeProm{t0: benchStart, canary: tr.canary, stable: tr.stable}
		// One analyzer per trial, each reading its own series; they are cheap.
		a := analysis.NewAnalyzer(f, m.opts)
		if !m.continuous {
			out[mi] = rollout(context.Background(), a, f, tr, cfg)
			continue
		}
		var err error
		if out[mi], err = continuousRollout(context.Background(), a, f, tr, cfg); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// benchStart is when every simulated rollout begins.
var benchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
