package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/e2e/bench/harness"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// samplerRow is what one size of the sampler mode measured.
type samplerRow struct {
	rollouts, namespaces int
	rebuild              time.Duration // until every rollout's evidence was rebuilt
	rebuildQueries       int64
	ticks                []tickCost
	promIdle, promBusy   float64 // Prometheus CPU seconds per minute, without and with the sampler
	heapMiB, rssMiB      float64 // this process after the ticks, the sampler holding every rollout's evidence
}

// tickCost is one sampler tick.
type tickCost struct {
	took    time.Duration
	queries int64
	samples int64 // series in the answers
	judged  int   // rollouts with a standing after the tick
}

// measureSampler registers n rollouts (the first n apps of fleet) with one
// analysis.Sampler, as the daemon's reconciles do, waits for their evidence
// rebuilds, then runs cfg.ticks ticks at the sampler's interval, and compares
// Prometheus' CPU over those ticks with the same span before the sampler ran.
func measureSampler(ctx context.Context, prom promv1.API, cfg config, f *fleet, checks []contract.Check, n int) (samplerRow, error) {
	row := samplerRow{rollouts: n, namespaces: f.namespaces(n)}
	span := time.Duration(cfg.ticks) * analysis.DefaultSampleInterval
	var err error
	if row.promIdle, err = promCPUPerMinute(ctx, cfg.promURL, span); err != nil {
		return row, err
	}
	c := &counting{API: prom}
	a := analysis.NewAnalyzer(c, analysis.Options{QueryTimeout: cfg.queryTimeout, MaxConcurrent: cfg.maxConcurrent})
	s := analysis.NewSampler(a, analysis.SamplerOptions{})
	since := time.Now()
	start := time.Now()
	targets := f.targets(n)
	for !allReady(ctx, s, targets, since, checks) {
		if time.Since(start) > 10*time.Minute {
			return row, fmt.Errorf("the evidence of %d rollouts was not rebuilt within 10 minutes", n)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return row, err
		}
	}
	row.rebuild, row.rebuildQueries = time.Since(start), c.instant.Load()+c.ranged.Load()
	cpu0, err := promCPU(ctx, cfg.promURL)
	if err != nil {
		return row, err
	}
	t0 := time.Now()
	for k := 1; k <= cfg.ticks; k++ {
		if err := sleep(ctx, time.Until(t0.Add(time.Duration(k)*analysis.DefaultSampleInterval))); err != nil {
			return row, err
		}
		row.ticks = append(row.ticks, tick(ctx, s, c, targets, since, checks))
	}
	cpu1, err := promCPU(ctx, cfg.promURL)
	if err != nil {
		return row, err
	}
	row.promBusy = (cpu1 - cpu0) / time.Since(t0).Minutes()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	row.heapMiB, row.rssMiB = float64(ms.HeapAlloc)/(1<<20), harness.ProcMemory(os.Getpid())["VmRSS"]
	runtime.KeepAlive(s)
	return row, nil
}

// allReady observes every rollout (starting its rebuild the first time) and
// reports whether all their evidence is rebuilt.
func allReady(ctx context.Context, s *analysis.Sampler, targets []analysis.Target, since time.Time, checks []contract.Check) bool {
	ready := true
	for _, t := range targets {
		s.Observe(ctx, t, "rev1", since, since, checks)
		ready = ready && s.Ready(t.Namespace, t.Deployment)
	}
	return ready
}

// tick runs one sampler tick, then reads every rollout's standing as the
// reconciles the tick's notifications start would.
func tick(ctx context.Context, s *analysis.Sampler, c *counting, targets []analysis.Target, since time.Time, checks []contract.Check) tickCost {
	q0, n0 := c.instant.Load(), c.samples.Load()
	begin := time.Now()
	s.Tick(ctx, begin)
	out := tickCost{took: time.Since(begin), queries: c.instant.Load() - q0, samples: c.samples.Load() - n0}
	for _, t := range targets {
		t.Window, t.End = time.Since(since), time.Now()
		if s.Observe(ctx, t, "rev1", since, since, checks) != nil {
			out.judged++
		}
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func printSamplerHeader() {
	fmt.Println("| rollouts | namespaces | queries per tick | series per tick | tick mean | tick p99 | rebuild of all (queries) | Prometheus CPU s/min, idle | with the sampler | heap | RSS | judged at the last tick |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
}

func (r samplerRow) print() {
	var took []time.Duration
	var queries, samples int64
	for _, t := range r.ticks {
		took = append(took, t.took)
		queries += t.queries
		samples += t.samples
	}
	slices.Sort(took)
	var sum time.Duration
	for _, d := range took {
		sum += d
	}
	n := int64(len(r.ticks))
	p99 := took[max(0, (99*len(took)+99)/100-1)]
	fmt.Printf("| %d | %d | %.1f | %d | %s | %s | %s (%d) | %.2f | %.2f | %.0f MiB | %.0f MiB | %d |\n", r.rollouts, r.namespaces,
		float64(queries)/float64(n), samples/n, round(sum/time.Duration(n)), round(p99), round(r.rebuild), r.rebuildQueries,
		r.promIdle, r.promBusy, r.heapMiB, r.rssMiB, r.ticks[len(r.ticks)-1].judged)
}
