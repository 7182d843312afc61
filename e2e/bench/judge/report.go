package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// row aggregates the outcomes of one (scenario, rate, mode).
type row struct {
	scenario            string
	rate                float64
	mode                string
	trials              int
	rolledBack          int
	atTick              int // rollbacks by a sequential check at a tick
	promoted, undecided int
	toRollback          []int // seconds from the canary's first traffic, per rollback
	secondsToPromotion  int
	deciding            map[string]int
}

func (r *row) add(o outcome) {
	r.trials++
	switch {
	case o.rolledBack:
		r.rolledBack++
		if o.atTick {
			r.atTick++
		}
		r.toRollback = append(r.toRollback, o.seconds)
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
	var modes []string
	for _, m := range cfg.modes {
		modes = append(modes, m.name)
	}
	only := ""
	if len(cfg.scenarios) < len(scenarios) {
		var names []string
		for _, i := range cfg.scenarios {
			names = append(names, scenarios[i].name)
		}
		only = fmt.Sprintf(" --scenarios %q", strings.Join(names, ","))
	}
	fmt.Printf("judgebench --seed %d --trials %d --rates %s --modes %s%s --interval %s --threshold %d --alpha %g --min-requests %g --stable-ratio %g --checks %q\n\n",
		cfg.seed, cfg.trials, joinRates(cfg.rates), strings.Join(modes, ","), only, cfg.interval, cfg.threshold, cfg.alpha,
		cfg.minRequests, cfg.stableRatio, cfg.checksText)
}

func joinRates(rs []float64) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprint(r))
	}
	return strings.Join(s, ",")
}

// printTable prints one Markdown row per (scenario, rate, mode). "Rolled back"
// is the false-rollback rate of healthy canaries and the share of bad ones
// rolled back before promotion, "at a tick" how many of those rollbacks a
// sequential check decided at a sampler tick (the others came at a gate); the
// schedule is steps x interval.
func printTable(rows []*row, schedule time.Duration) {
	fmt.Println("| canary | canary rps | mode | rolled back | at a tick | mean time to rollback | p99 time to rollback | promoted | mean time to promotion | of the schedule | undecided | deciding checks |")
	fmt.Println("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rows {
		mean, p99, tProm, share := "—", "—", "—", "—"
		if r.rolledBack > 0 {
			sum := 0
			for _, s := range r.toRollback {
				sum += s
			}
			mean = fmt.Sprintf("%.0fs", float64(sum)/float64(r.rolledBack))
			p99 = fmt.Sprintf("%ds", nearestRank(r.toRollback, 0.99))
		}
		if r.promoted > 0 {
			secs := float64(r.secondsToPromotion) / float64(r.promoted)
			tProm, share = fmt.Sprintf("%.0fs", secs), fmt.Sprintf("%.2f", secs/schedule.Seconds())
		}
		fmt.Printf("| %s | %g | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", r.scenario, r.rate, r.mode,
			pct(r.rolledBack, r.trials), r.atTick, mean, p99, pct(r.promoted, r.trials), tProm, share,
			pct(r.undecided, r.trials), topChecks(r.deciding))
	}
}

// nearestRank is the q-quantile of xs by the nearest-rank method.
func nearestRank(xs []int, q float64) int {
	s := slices.Sorted(slices.Values(xs))
	return s[max(0, int(math.Ceil(q*float64(len(s))))-1)]
}

// topChecks names the checks that failed the deciding gates, most frequent first.
func topChecks(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	var parts []string
	for _, k := range keys[:min(3, len(keys))] {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
