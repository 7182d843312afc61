package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// counting counts the queries that reach Prometheus, and the series of the
// instant queries' answers.
type counting struct {
	promv1.API
	instant, ranged, samples atomic.Int64
}

func (c *counting) Query(ctx context.Context, q string, ts time.Time, o ...promv1.Option) (model.Value, promv1.Warnings, error) {
	c.instant.Add(1)
	v, w, err := c.API.Query(ctx, q, ts, o...)
	if vec, ok := v.(model.Vector); ok {
		c.samples.Add(int64(len(vec)))
	}
	return v, w, err
}

func (c *counting) QueryRange(ctx context.Context, q string, r promv1.Range, o ...promv1.Option) (model.Value, promv1.Warnings, error) {
	c.ranged.Add(1)
	return c.API.QueryRange(ctx, q, r, o...)
}

// result is one row: n gates evaluated at once.
type result struct {
	n               int
	mode            string
	instant, ranged int64
	wall            time.Duration
	gates           []time.Duration // sorted
	verdicts        map[contract.Verdict]int
}

// measure runs n gates due at once through one Analyzer and cfg.workers
// workers, as n rollouts reaching their gate together would in the daemon.
func measure(ctx context.Context, prom promv1.API, cfg config, t analysis.Target, checks []contract.Check, n int, judge bool) result {
	c := &counting{API: prom}
	opts := analysis.Options{QueryTimeout: cfg.queryTimeout, MaxConcurrent: cfg.maxConcurrent}
	r := result{n: n, mode: "threshold", verdicts: map[contract.Verdict]int{}}
	if judge {
		opts.Judge, r.mode = &analysis.JudgeOptions{}, "judge"
	}
	a := analysis.NewAnalyzer(c, opts)
	t.End = time.Now()
	durations := make([]time.Duration, n)
	verdicts := make([]contract.Verdict, n)
	// The daemon's workers bound the gates in progress; the Analyzer's semaphore
	// bounds their queries.
	slots := make(chan struct{}, cfg.workers)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			s := time.Now()
			verdicts[i] = a.Evaluate(ctx, t, checks).Verdict
			durations[i] = time.Since(s)
		}()
	}
	wg.Wait()
	r.wall = time.Since(start)
	slices.Sort(durations)
	r.gates = durations
	for _, v := range verdicts {
		r.verdicts[v]++
	}
	r.instant, r.ranged = c.instant.Load(), c.ranged.Load()
	return r
}

func printHeader() {
	fmt.Println("| rollouts at once | mode | queries per gate (instant+range) | queries sent | wall time | gate p50 | gate p95 | gate max | queries/s | verdicts |")
	fmt.Println("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
}

func (r result) print() {
	q := func(p float64) time.Duration { return r.gates[min(len(r.gates)-1, int(p*float64(len(r.gates))))] }
	total := r.instant + r.ranged
	fmt.Printf("| %d | %s | %d+%d | %d | %s | %s | %s | %s | %.0f | %s |\n", r.n, r.mode,
		r.instant/int64(r.n), r.ranged/int64(r.n), total, round(r.wall), round(q(0.5)), round(q(0.95)),
		round(r.gates[len(r.gates)-1]), float64(total)/r.wall.Seconds(), verdictText(r.verdicts))
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

func verdictText(m map[contract.Verdict]int) string {
	out := ""
	for _, v := range []contract.Verdict{contract.Pass, contract.Inconclusive, contract.Fail} {
		if m[v] > 0 {
			out += fmt.Sprintf("%s %d ", v, m[v])
		}
	}
	return out
}
