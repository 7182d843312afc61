package analysis

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// plan holds the rendered queries one check needs. Empty strings are not needed.
type plan struct {
	check contract.Check
	// canary and stable read the compared value of each side (not used by
	// error-rate checks, whose value comes from the status counts).
	canary, stable string
	// canaryTotal and stableTotal count requests in the window by status
	// (request checks; the stable side for error-rate baselines only).
	canaryTotal, stableTotal string
	// statusLabel is the label the status counts are split by.
	statusLabel string
	// samples, when the statistical judge decides the check, holds the same
	// queries rendered with the judge's step as window, sent as range queries.
	samples *plan
}

// newPlan renders the queries of c for t.
func newPlan(t Target, c contract.Check) (plan, error) {
	p := plan{check: c, statusLabel: t.statusLabel()}
	var err error
	switch {
	case c.Custom != nil:
		return customPlan(t, c)
	case c.Metric == contract.MetricAlerts:
		p.canary, err = podQuery(t, "alerts", canarySide)
		return p, err
	case c.Metric == contract.MetricErrorRate:
		p.canaryTotal, err = requestQuery(t, "statuses", canarySide, 0)
		if err == nil && c.Mode != contract.Absolute {
			p.stableTotal, err = requestQuery(t, "statuses", stableSide, 0)
		}
		return p, err
	case c.Metric == contract.MetricLatency:
		p.canaryTotal, err = requestQuery(t, "statuses", canarySide, 0)
		if err == nil {
			p.canary, err = requestQuery(t, "latency", canarySide, c.Quantile)
		}
		if err == nil && c.Mode != contract.Absolute {
			p.stable, err = requestQuery(t, "latency", stableSide, c.Quantile)
		}
		return p, err
	}
	p.canary, err = podQuery(t, string(c.Metric), canarySide)
	if err == nil && c.Mode != contract.Absolute {
		p.stable, err = podQuery(t, string(c.Metric), stableSide)
	}
	return p, err
}

// queries lists the plan's queries.
func (p plan) queries() []string {
	var out []string
	for _, q := range []string{p.canaryTotal, p.canary, p.stableTotal, p.stable} {
		if q != "" {
			out = append(out, q)
		}
	}
	return out
}

// decide reads a plan's results and decides its check: query failures and missing
// data fail, too few canary requests is Inconclusive, the rest is compared.
func (a *Analyzer) decide(ctx context.Context, ev *evaluation, p plan) contract.CheckResult {
	c := p.check
	if c.Mode == contract.NoneFiring {
		return judgeNoneFiring(ctx, ev, p)
	}
	var counts statusCounts
	if p.canaryTotal != "" {
		var err error
		counts, err = readStatuses(ctx, ev, p.canaryTotal, p.statusLabel, "canary requests")
		if err != nil {
			return failed(c, err.Error())
		}
		if n := counts.total; n < a.minRequests || n == 0 {
			return contract.CheckResult{Name: c.Name(), Verdict: contract.Inconclusive,
				Reason: fmt.Sprintf("not enough traffic on the canary (%.0f requests)", n)}
		}
	}
	canary, err := p.readSide(ctx, ev, canarySide, counts)
	if err != nil {
		return failed(c, err.Error())
	}
	r := contract.CheckResult{Name: c.Name(), Value: &canary}
	if c.Mode == contract.Absolute {
		r.Verdict, r.Reason = compare(c, canary, 0)
		return r
	}
	var stable float64
	if c.Metric == contract.MetricErrorRate && c.Custom == nil {
		counts, err = readStatuses(ctx, ev, p.stableTotal, p.statusLabel, "stable requests")
	}
	if err == nil {
		stable, err = p.readSide(ctx, ev, stableSide, counts)
	}
	if err != nil {
		r.Verdict, r.Reason = contract.Fail, err.Error()
		return r
	}
	r.Baseline = &stable
	if p.samples != nil {
		r.Verdict, r.Reason = a.judgeSamples(ctx, ev, c, p.samples)
		return r
	}
	r.Verdict, r.Reason = compare(c, canary, stable)
	return r
}

// readSide reads one side's value: an error-rate check's is the 5xx share of
// that side's status counts, any other check's its own query.
func (p plan) readSide(ctx context.Context, ev *evaluation, s side, counts statusCounts) (float64, error) {
	if p.check.Metric == contract.MetricErrorRate && p.check.Custom == nil {
		return counts.errorShare(p.statusLabel, s.String())
	}
	q := p.canary
	if s == stableSide {
		q = p.stable
	}
	return readValue(ctx, ev, q, s.String())
}

// readValue reads a query that must return exactly one finite sample.
func readValue(ctx context.Context, ev *evaluation, q, what string) (float64, error) {
	vec, err := ev.get(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("query failed: %s: %w", what, err)
	}
	switch len(vec) {
	case 0:
		return 0, fmt.Errorf("no data for %s", what)
	case 1:
	default:
		return 0, fmt.Errorf("query for %s returned %d series, want 1", what, len(vec))
	}
	v := float64(vec[0].Value)
	switch {
	case math.IsNaN(v):
		return 0, fmt.Errorf("NaN for %s", what)
	case math.IsInf(v, 0):
		return 0, fmt.Errorf("%v for %s", v, what)
	}
	return v, nil
}

// judgeNoneFiring passes when the query returns nothing (no alert firing) and
// fails, naming the alerts, when it returns anything.
func judgeNoneFiring(ctx context.Context, ev *evaluation, p plan) contract.CheckResult {
	c := p.check
	vec, err := ev.get(ctx, p.canary)
	if err != nil {
		return failed(c, fmt.Sprintf("query failed: %v", err))
	}
	n := float64(len(vec))
	r := contract.CheckResult{Name: c.Name(), Value: &n, Verdict: contract.Pass, Reason: "no alert firing"}
	if len(vec) > 0 {
		r.Verdict = contract.Fail
		r.Reason = fmt.Sprintf("%d alert(s) firing: %s", len(vec), alertNames(vec))
	}
	return r
}

// alertNames lists the distinct alertname labels of vec, sorted.
func alertNames(vec model.Vector) string {
	seen := map[string]bool{}
	var names []string
	for _, s := range vec {
		n := string(s.Metric[model.AlertNameLabel])
		if n == "" {
			n = s.Metric.String()
		}
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
