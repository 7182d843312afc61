package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/aclements/go-moremath/stats"
	"github.com/prometheus/common/model"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// JudgeOptions turn on the statistical judge for the baseline forms of checks
// (1.3x, 1%+baseline). Instead of comparing one canary number with one stable
// number, the judge cuts the window into steps, takes one sample per step from
// each side, turns each stable sample into a limit with the check's tolerance
// (×1.3, +1 point) and asks a one-sided Mann-Whitney U test which side of the
// limits the canary's samples lie on:
//   - canary significantly above the limits: Fail;
//   - canary significantly below the limits: Pass;
//   - neither at the chosen significance, or too few samples: Inconclusive.
//
// So noise alone neither fails a good canary nor passes an unproven one.
// Absolute forms and alerts keep their plain thresholds.
type JudgeOptions struct {
	// Step is the length of one sample (the range of rate() inside it). Zero
	// means a tenth of the window, at least MinStep.
	Step time.Duration
	// Alpha is the significance of each one-sided test. Zero means 0.05.
	Alpha float64
	// MinSamples is the fewest samples per side the test needs. Zero means 4.
	MinSamples int
}

// MinStep is the shortest judge step: rate() needs two scrapes inside a step.
const MinStep = 10 * time.Second

func (o JudgeOptions) withDefaults() JudgeOptions {
	if o.Alpha <= 0 || o.Alpha >= 1 {
		o.Alpha = 0.05
	}
	if o.MinSamples <= 0 {
		o.MinSamples = 4
	}
	return o
}

// step is the sample length for a window.
func (o JudgeOptions) step(window time.Duration) time.Duration {
	if o.Step > 0 {
		return max(o.Step, time.Second)
	}
	return max(window/10, MinStep).Truncate(time.Second)
}

// judges reports whether the judge decides c: only baseline forms have a stable
// side to sample. memory-growth is not sampled: a slope over one step's few
// scrapes is noise, the window's slope is the measure.
func (a *Analyzer) judges(c contract.Check) bool {
	return a.judge != nil && (c.Mode == contract.Ratio || c.Mode == contract.BaselinePlus) && c.Metric != contract.MetricMemoryGrowth
}

// samplePlan renders c's queries with the step as their window; they run as
// range queries over the gate's window.
func (a *Analyzer) samplePlan(t Target, c contract.Check) (*plan, error) {
	t.Window = a.judge.step(t.Window)
	p, err := newPlan(t, c)
	if c.Metric != contract.MetricErrorRate || c.Custom != nil {
		p.canaryTotal, p.stableTotal = "", ""
	}
	return &p, err
}

// sampleRange is the range whose steps each cover one step-long slice of the
// window ending at end.
func (a *Analyzer) sampleRange(t Target, end time.Time) (start time.Time, step time.Duration) {
	step = a.judge.step(t.Window)
	n := max(int64(t.Window/step), 1)
	return end.Add(-time.Duration(n-1) * step), step
}

// judgeSamples decides a baseline-form check from per-step samples.
func (a *Analyzer) judgeSamples(ctx context.Context, ev *evaluation, c contract.Check, sp *plan) (contract.Verdict, string) {
	canary, err := sp.readSamples(ctx, ev, canarySide)
	if err != nil {
		return contract.Fail, err.Error()
	}
	stable, err := sp.readSamples(ctx, ev, stableSide)
	if err != nil {
		return contract.Fail, err.Error()
	}
	limits := make([]float64, len(stable))
	for i, s := range stable {
		limits[i] = checkLimit(c, s)
	}
	return a.judge.mannWhitney(c, canary, limits)
}

// checkLimit is the largest canary value a baseline form allows for a stable value.
func checkLimit(c contract.Check, stable float64) float64 {
	if c.Mode == contract.BaselinePlus {
		return stable + c.Bound
	}
	return c.Bound * math.Max(stable, checkFloor(c))
}

// mannWhitney runs the two one-sided tests and words the verdict.
func (o JudgeOptions) mannWhitney(c contract.Check, canary, limits []float64) (contract.Verdict, string) {
	figures := fmt.Sprintf("median %s vs limit %s, %d/%d samples",
		checkFormat(c, median(canary)), checkFormat(c, median(limits)), len(canary), len(limits))
	if len(canary) < o.MinSamples || len(limits) < o.MinSamples {
		return contract.Inconclusive, fmt.Sprintf("%s: too few samples to judge (%s, need %d)", checkLabel(c), figures, o.MinSamples)
	}
	above, err := stats.MannWhitneyUTest(canary, limits, stats.LocationGreater)
	if errors.Is(err, stats.ErrSamplesEqual) {
		return contract.Pass, fmt.Sprintf("%s at its limit in every sample (%s)", checkLabel(c), figures)
	}
	if err != nil {
		return contract.Fail, fmt.Sprintf("%s: Mann-Whitney test: %v", checkLabel(c), err)
	}
	if above.P < o.Alpha {
		return contract.Fail, fmt.Sprintf("%s above its limit (Mann-Whitney p=%.3g < %g; %s)", checkLabel(c), above.P, o.Alpha, figures)
	}
	below, err := stats.MannWhitneyUTest(canary, limits, stats.LocationLess)
	if err != nil {
		return contract.Fail, fmt.Sprintf("%s: Mann-Whitney test: %v", checkLabel(c), err)
	}
	if below.P < o.Alpha {
		return contract.Pass, fmt.Sprintf("%s within its limit (Mann-Whitney p=%.3g < %g; %s)", checkLabel(c), below.P, o.Alpha, figures)
	}
	return contract.Inconclusive, fmt.Sprintf("%s: cannot tell from its limit (Mann-Whitney p=%.3g above, %.3g below; %s)",
		checkLabel(c), above.P, below.P, figures)
}

// readSamples reads one side's per-step samples, sorted, dropping steps without
// a finite value (a step with no request has no latency). An error-rate check's
// samples are each step's 5xx share of its status counts.
func (p *plan) readSamples(ctx context.Context, ev *evaluation, s side) ([]float64, error) {
	if p.check.Metric == contract.MetricErrorRate && p.check.Custom == nil {
		q := p.canaryTotal
		if s == stableSide {
			q = p.stableTotal
		}
		m, err := ev.getRange(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("query failed: %s request samples: %w", s, err)
		}
		return statusSamples(m, p.statusLabel, s.String())
	}
	q := p.canary
	if s == stableSide {
		q = p.stable
	}
	values, err := readSeries(ctx, ev, q, s.String()+" samples")
	if err != nil {
		return nil, err
	}
	out := make([]float64, 0, len(values))
	for _, v := range values {
		out = append(out, v)
	}
	return finite(out), nil
}

// readSeries reads a range query that must return at most one series, keyed by
// timestamp. No series means no samples.
func readSeries(ctx context.Context, ev *evaluation, q, what string) (map[model.Time]float64, error) {
	m, err := ev.getRange(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("query failed: %s: %w", what, err)
	}
	if len(m) > 1 {
		return nil, fmt.Errorf("query for %s returned %d series, want 1", what, len(m))
	}
	out := map[model.Time]float64{}
	for _, s := range m {
		for _, p := range s.Values {
			out[p.Timestamp] = float64(p.Value)
		}
	}
	return out, nil
}

// finite returns the finite values, sorted (map order is random; sorting makes
// results and reasons repeatable).
func finite(in []float64) []float64 {
	var out []float64
	for _, v := range in {
		if isFinite(v) {
			out = append(out, v)
		}
	}
	sort.Float64s(out)
	return out
}

// median of values; NaN when empty.
func median(values []float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), values...)
	sort.Float64s(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
