package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
)

// result is what one level measured.
type result struct {
	level
	// gate: "gate evaluated" to weight 0; gateTrigger: interval shortened to
	// weight 0; alert: webhook POST to weight 0.
	gate, gateTrigger, alert []time.Duration
	daemon                   map[string]histogram
	why                      map[string]int
	health                   string
}

type path struct {
	name  string
	cause string
	pick  func(result) []time.Duration
}

var paths = []path{
	{`failed gate: "gate evaluated" → weight 0`, "gate", func(r result) []time.Duration { return r.gate }},
	{"alert: webhook POST → weight 0", "alert", func(r result) []time.Duration { return r.alert }},
	{"gate made due (interval patched) → weight 0", "", func(r result) []time.Duration { return r.gateTrigger }},
}

func report(w io.Writer, o options, rows []result) {
	qps := "daemon default"
	if o.kubeQPS > 0 {
		qps = fmt.Sprint(o.kubeQPS)
	}
	fmt.Fprintf(w, "\nrouter nginx, weight 0 = canary Ingress deleted or canary-weight 0, seen on an Ingress watch; ROLLOUTD_KUBE_QPS %s; settings %q\n\n", qps, o.env)
	fmt.Fprintln(w, "| path | rollouts | n | p50 | p99 | max |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, p := range paths {
		for _, r := range rows {
			s := harness.Summarise(p.pick(r))
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s |\n", p.name, r.level, s.N, round(s.P50), round(s.P99), round(s.Max))
		}
	}
	if len(rows) == 2 {
		fmt.Fprintf(w, "\nratio %s vs %s:\n", rows[1].level, rows[0].level)
		for _, p := range paths[:2] {
			a, b := harness.Summarise(p.pick(rows[0])), harness.Summarise(p.pick(rows[1]))
			fmt.Fprintf(w, "  %s: p50 x%.1f, p99 x%.1f, max x%.1f\n", p.name, ratio(b.P50, a.P50), ratio(b.P99, a.P99), ratio(b.Max, a.Max))
		}
	}
	fmt.Fprintln(w, "\ncross-check with rolloutd_rollback_latency_seconds (the daemon's clock: the decision's evidence → traffic-0 write returned;")
	fmt.Fprintln(w, "for alerts the evidence is the controller reading the mark, after the webhook's patch and the workqueue):")
	fmt.Fprintln(w, "\n| cause | rollouts | n daemon | n watch | mean daemon | mean watch | p50 daemon* | p99 daemon* |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, p := range paths[:2] {
		for _, r := range rows {
			h, s := r.daemon[p.cause], harness.Summarise(p.pick(r))
			fmt.Fprintf(w, "| %s | %s | %.0f | %d | %s | %s | %s | %s |\n", p.cause, r.level, h.count, s.N,
				secs(h.mean()), round(s.Mean), secs(h.quantile(0.5)), secs(h.quantile(0.99)))
		}
	}
	fmt.Fprintln(w, "* interpolated within the histogram's buckets (.005 .01 .025 .05 .1 .25 .5 1 2.5 5 10 30 s)")
	for _, r := range rows {
		fmt.Fprintf(w, "\n%s: %s\n", r.level, r.health)
		for _, k := range sortedKeys(r.why) {
			fmt.Fprintf(w, "  gate failures: %d × %s\n", r.why[k], k)
		}
	}
}

func round(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

func secs(s float64) string {
	if math.IsNaN(s) {
		return "—"
	}
	return round(time.Duration(s * float64(time.Second)))
}

func ratio(b, a time.Duration) float64 {
	if a == 0 {
		return math.NaN()
	}
	return float64(b) / float64(a)
}

func sortedKeys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
