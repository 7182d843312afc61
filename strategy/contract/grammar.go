package contract

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// DefaultChecks is the value of rolloutd.io/checks when the annotation is absent
// on a canary rollout: the contract's four checks plus memory-growth, which the
// continuous judge fits with a noise margin.
const DefaultChecks = DefaultGateChecks + ", memory-growth"

// DefaultGateChecks is the default of the strategies judged at their gates only
// (bluegreen, abtest, batch): the contract's annotation table. memory-growth is
// left out there, because a slope read by one deriv() over a gate's window has
// no noise margin (a 1% noise on 128Mi reads as ±8Mi a minute over 10s);
// written out, it is judged plainly.
const DefaultGateChecks = "error-rate<=1%+baseline, cpu<=1.3x, memory<=1.3x, load<=1.5x"

// ErrInvalidCheck is wrapped by every error ParseChecks returns, so callers can
// tell a user's mistake from anything else with errors.Is.
var ErrInvalidCheck = errors.New("invalid check")

// Metric names what a check measures.
type Metric string

// Metrics of the built-in checks.
const (
	MetricErrorRate Metric = "error-rate" // share of 5xx responses, as a fraction
	MetricLatency   Metric = "latency"    // request duration quantile, in seconds
	MetricCPU       Metric = "cpu"        // CPU cores per pod
	MetricMemory    Metric = "memory"     // working-set bytes per pod
	MetricLoad      Metric = "load"       // 10s CPU load average per pod
	MetricAlerts    Metric = "alerts"     // firing alerts labelled with the Deployment
	// MetricMemoryGrowth is the working set's growth rate per pod, in bytes
	// per minute: a leak is a slope, whatever the size it starts from.
	MetricMemoryGrowth Metric = "memory-growth"
)

// DefaultGrowthAllowance is what "memory-growth" alone allows the canary's
// working set to grow faster than the stable's: 1Mi per minute per pod.
const DefaultGrowthAllowance = 1 << 20

// Mode says what a check's bound is compared with.
type Mode int

// Comparison modes.
const (
	// Absolute: the canary's value must be at most Bound.
	Absolute Mode = iota
	// Ratio: the canary's value must be at most Bound times the stable's.
	Ratio
	// BaselinePlus: the canary's value must be at most the stable's plus Bound.
	BaselinePlus
	// NoneFiring: the check passes when the query returns nothing (alerts).
	NoneFiring
)

// Check is one parsed gate condition. Bound is in the metric's base unit (a
// fraction for error rates, seconds, cores, bytes, load) for Absolute and
// BaselinePlus, and a factor for Ratio.
type Check struct {
	Metric   Metric
	Quantile float64 // latency only: 0.5 for p50, 0.99 for p99
	Mode     Mode
	Bound    float64
	// Custom is set for checks read from a rolloutd.io/analysis ConfigMap; it
	// replaces the built-in queries of Metric.
	Custom *CustomQuery
}

// Name identifies the check in status, Events and metrics: "error-rate",
// "latency-p99", "cpu", "memory", "load", "alerts", or a custom check's name.
func (c Check) Name() string {
	switch {
	case c.Custom != nil:
		return c.Custom.Name
	case c.Metric == MetricLatency:
		return "latency-p" + QuantileDigits(c.Quantile)
	}
	return string(c.Metric)
}

// String renders the check in the annotation's grammar; ParseChecks accepts it back.
func (c Check) String() string {
	if c.Mode == NoneFiring || (c.Metric == MetricMemoryGrowth && c.Bound == DefaultGrowthAllowance) {
		return c.Name()
	}
	return c.Name() + "<=" + c.boundText()
}

func (c Check) boundText() string {
	switch c.Mode {
	case Ratio:
		return FormatNumber(c.Bound) + "x"
	case BaselinePlus:
		if c.Metric == MetricMemoryGrowth {
			return resource.NewQuantity(int64(c.Bound), resource.BinarySI).String() + "+baseline"
		}
		return FormatNumber(c.Bound*100) + "%+baseline"
	}
	switch c.Metric {
	case MetricErrorRate:
		return FormatNumber(c.Bound*100) + "%"
	case MetricLatency:
		return FormatNumber(c.Bound*1000) + "ms"
	case MetricCPU:
		return FormatNumber(c.Bound*1000) + "m"
	case MetricMemory:
		return resource.NewQuantity(int64(c.Bound), resource.BinarySI).String()
	}
	return FormatNumber(c.Bound)
}

// acceptedForms is quoted in every grammar error so the user sees what works.
const acceptedForms = `accepted: error-rate<=1%+baseline, error-rate<=2%, ` +
	`latency-p50|p90|p99<=1.2x, latency-p99<=500ms (or 0.5s), cpu<=1.3x, cpu<=500m, ` +
	`memory<=1.3x, memory<=256Mi, load<=1.5x, load<=2, memory-growth, memory-growth<=4Mi+baseline (per minute), alerts`

// ParseChecks parses the rolloutd.io/checks annotation, e.g.
// "error-rate<=1%+baseline, cpu<=1.3x, memory<=1.3x, load<=1.5x". Items are
// comma-separated; each check may appear once. Errors wrap ErrInvalidCheck, name the
// bad item and list the accepted forms.
func ParseChecks(s string) ([]Check, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: no checks given (%s)", ErrInvalidCheck, acceptedForms)
	}
	var checks []Check
	seen := map[string]string{}
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("%w: item %d is empty (%s)", ErrInvalidCheck, i+1, acceptedForms)
		}
		c, err := parseCheck(item)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v (%s)", ErrInvalidCheck, item, err, acceptedForms)
		}
		if prev, ok := seen[c.Name()]; ok {
			return nil, fmt.Errorf("%w: %q: check %s already given as %q; give one bound per check",
				ErrInvalidCheck, item, c.Name(), prev)
		}
		seen[c.Name()] = item
		checks = append(checks, c)
	}
	return checks, nil
}

// parseCheck parses one item such as "cpu<=1.3x".
func parseCheck(item string) (Check, error) {
	switch item {
	case string(MetricAlerts):
		return Check{Metric: MetricAlerts, Mode: NoneFiring}, nil
	case string(MetricMemoryGrowth):
		return Check{Metric: MetricMemoryGrowth, Mode: BaselinePlus, Bound: DefaultGrowthAllowance}, nil
	}
	name, bound, ok := strings.Cut(item, "<=")
	if !ok {
		return Check{}, errors.New(`expected NAME<=BOUND or "alerts"`)
	}
	// Spaces inside a bound carry no meaning: "1% + baseline" is "1%+baseline".
	name, bound = strings.TrimSpace(name), strings.Join(strings.Fields(bound), "")
	if bound == "" {
		return Check{}, errors.New("missing bound after <=")
	}
	switch {
	case name == string(MetricErrorRate):
		return parseErrorRate(bound)
	case strings.HasPrefix(name, "latency-"):
		return parseLatency(strings.TrimPrefix(name, "latency-"), bound)
	case name == string(MetricCPU), name == string(MetricMemory), name == string(MetricLoad):
		return parseResource(Metric(name), bound)
	case name == string(MetricMemoryGrowth):
		return parseGrowth(bound)
	}
	return Check{}, fmt.Errorf("unknown check %q", name)
}

// parseErrorRate accepts "2%" (absolute) and "1%+baseline".
func parseErrorRate(bound string) (Check, error) {
	c := Check{Metric: MetricErrorRate, Mode: Absolute}
	if b, ok := strings.CutSuffix(bound, "+baseline"); ok {
		c.Mode, bound = BaselinePlus, strings.TrimSpace(b)
	}
	p, ok := strings.CutSuffix(bound, "%")
	if !ok {
		return Check{}, fmt.Errorf("error-rate bound %q must be a percentage like 2%% or 1%%+baseline", bound)
	}
	v, err := ParseNonNegative(p)
	if err != nil || v > 100 {
		return Check{}, fmt.Errorf("error-rate bound %q must be a percentage between 0%% and 100%%", bound)
	}
	c.Bound = v / 100
	return c, nil
}

// parseLatency accepts quantiles p01..p99 and bounds "1.2x", "500ms", "0.5s".
func parseLatency(q, bound string) (Check, error) {
	quantile, err := parseQuantile(q)
	if err != nil {
		return Check{}, err
	}
	c := Check{Metric: MetricLatency, Quantile: quantile}
	if f, ok := ParseFactor(bound); ok {
		c.Mode, c.Bound = Ratio, f
		return c, nil
	}
	c.Mode = Absolute
	switch {
	case strings.HasSuffix(bound, "ms"):
		v, err := ParseNonNegative(strings.TrimSuffix(bound, "ms"))
		c.Bound = v / 1000
		if err == nil {
			return c, nil
		}
	case strings.HasSuffix(bound, "s"):
		v, err := ParseNonNegative(strings.TrimSuffix(bound, "s"))
		c.Bound = v
		if err == nil {
			return c, nil
		}
	}
	return Check{}, fmt.Errorf("latency bound %q must be a factor like 1.2x or a duration like 500ms or 0.5s", bound)
}

// parseQuantile turns "p99" into 0.99; two digits, 01 to 99.
func parseQuantile(q string) (float64, error) {
	digits, ok := strings.CutPrefix(q, "p")
	n, err := strconv.Atoi(digits)
	if !ok || len(digits) != 2 || err != nil || n < 1 {
		return 0, fmt.Errorf("unknown latency quantile %q, want p50, p90, p99 (any p01..p99)", q)
	}
	return float64(n) / 100, nil
}

// parseResource accepts "1.3x" for every resource metric, a Kubernetes quantity
// for cpu ("500m", "1") and memory ("256Mi"), and a plain number for load.
func parseResource(m Metric, bound string) (Check, error) {
	c := Check{Metric: m}
	if f, ok := ParseFactor(bound); ok {
		c.Mode, c.Bound = Ratio, f
		return c, nil
	}
	c.Mode = Absolute
	if m == MetricLoad {
		v, err := ParseNonNegative(bound)
		if err != nil {
			return Check{}, fmt.Errorf("load bound %q must be a factor like 1.5x or a number like 2", bound)
		}
		c.Bound = v
		return c, nil
	}
	v, ok := parseQuantityBound(bound)
	if !ok {
		example := map[Metric]string{MetricCPU: "500m", MetricMemory: "256Mi"}[m]
		return Check{}, fmt.Errorf("%s bound %q must be a factor like 1.3x or a quantity like %s", m, bound, example)
	}
	c.Bound = v
	return c, nil
}

// parseQuantityBound parses a non-negative Kubernetes quantity such as 256Mi.
func parseQuantityBound(s string) (float64, bool) {
	if !plausibleQuantity(s) {
		return 0, false
	}
	q, err := resource.ParseQuantity(s)
	v := q.AsApproximateFloat64()
	// ParseQuantity takes forms like "e700" whose float is NaN or huge.
	return v, err == nil && q.Sign() >= 0 && !math.IsNaN(v) && v <= maxNumber
}

// maxQuantityText and maxQuantityExponent bound what reaches ParseQuantity:
// it computes a decimal exponent as a power of ten in arbitrary precision, so
// "100E001000000000500000" runs for minutes (a reconcile worker held by one
// annotation). No bound up to maxNumber needs more.
const (
	maxQuantityText     = 64
	maxQuantityExponent = 30
)

// plausibleQuantity reports whether s is short enough, and its decimal exponent
// (the digits after an e or E) small enough, to be parsed at once.
func plausibleQuantity(s string) bool {
	if len(s) > maxQuantityText {
		return false
	}
	i := strings.IndexAny(s, "eE")
	if i < 0 || s[i+1:] == "" || s[i+1:] == "i" {
		return true // no exponent, or the suffix E (exa) or Ei (exbi)
	}
	exp, err := strconv.Atoi(s[i+1:])
	return err == nil && exp >= -maxQuantityExponent && exp <= maxQuantityExponent
}

// parseGrowth accepts "4Mi+baseline": the canary's working set may grow that
// much faster per minute than the stable's.
func parseGrowth(bound string) (Check, error) {
	b, plus := strings.CutSuffix(bound, "+baseline")
	v, ok := parseQuantityBound(b)
	if !plus || !ok {
		return Check{}, fmt.Errorf("memory-growth bound %q must be a quantity per minute above the stable's, like 4Mi+baseline", bound)
	}
	return Check{Metric: MetricMemoryGrowth, Mode: BaselinePlus, Bound: v}, nil
}

// minFactor is the smallest factor the grammar holds: FormatNumber keeps six
// decimals, so a smaller positive factor would render as "0x", which is refused.
const minFactor = 0.000001

// ParseFactor parses "1.3x"; the factor must be at least minFactor.
func ParseFactor(s string) (float64, bool) {
	f, ok := strings.CutSuffix(s, "x")
	if !ok {
		return 0, false
	}
	v, err := ParseNonNegative(f)
	return v, err == nil && v >= minFactor
}

// maxNumber bounds every number of the grammar: far above any real bound (a
// petabyte, a million cores), yet small enough that scaling it to milli units or
// percent and rendering it back stays finite.
const maxNumber = 1e15

// parseNonNegative parses a decimal number from 0 to maxNumber.
func ParseNonNegative(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, err
	}
	if v < 0 || math.IsNaN(v) || v > maxNumber {
		return 0, fmt.Errorf("%q is not a number from 0 to %g", s, float64(maxNumber))
	}
	return v, nil
}

// quantileDigits renders 0.99 as "99" and 0.5 as "50".
func QuantileDigits(q float64) string {
	return fmt.Sprintf("%02d", int(q*100+0.5))
}

// FormatNumber renders a float without trailing zeros or exponent, rounded to six
// decimals so that 0.015*100 prints as 1.5, and to the 15 significant digits a
// float64 holds, so that a large bound scaled to milli units and back renders the
// same text again (5.0000011e13 has no meaningful sixth decimal).
func FormatNumber(v float64) string {
	r := math.Round(v*1e6) / 1e6
	if d, err := strconv.ParseFloat(strconv.FormatFloat(r, 'g', 15, 64), 64); err == nil {
		r = d
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}
