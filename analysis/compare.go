package analysis

import (
	"fmt"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"math"
	"strconv"
	"strings"
)

// ratioFloor is the smallest stable value a ratio check multiplies. A stable side
// at (or near) zero, e.g. idle CPU, would otherwise make any canary value an
// infinite regression; with the floor, "cpu<=1.3x" against a stable 0 cores means
// "at most 1.3 × 10m". The comparison never divides, so it can never yield Inf.
var ratioFloor = map[contract.Metric]float64{
	contract.MetricLatency: 0.001,   // 1ms
	contract.MetricCPU:     0.01,    // 10m cores
	contract.MetricMemory:  1 << 20, // 1Mi
	contract.MetricLoad:    0.1,
}

// compare decides a check from the canary's value and, for baseline forms, the
// stable's, and says why with the figures.
func compare(c contract.Check, canary, stable float64) (contract.Verdict, string) {
	f := func(v float64) string { return checkFormat(c, v) }
	var limit float64
	var against string
	switch c.Mode {
	case contract.BaselinePlus:
		limit = stable + c.Bound
		against = fmt.Sprintf("%s + %s baseline allowance", f(stable), f(c.Bound))
	case contract.Ratio:
		base := math.Max(stable, checkFloor(c))
		limit = c.Bound * base
		against = fmt.Sprintf("%sx stable %s (limit %s", contract.FormatNumber(c.Bound), f(stable), f(limit))
		if stable < base {
			against += fmt.Sprintf(", from the %s floor", f(base))
		}
		against += ")"
	default:
		limit = c.Bound
		against = f(c.Bound)
	}
	if canary <= limit {
		return contract.Pass, fmt.Sprintf("%s %s <= %s", checkLabel(c), f(canary), against)
	}
	return contract.Fail, fmt.Sprintf("%s %s > %s", checkLabel(c), f(canary), against)
}

// checkFloor is the ratio floor of c's metric; custom checks bring their own.
func checkFloor(c contract.Check) float64 {
	if c.Custom != nil {
		return c.Custom.Floor
	}
	return ratioFloor[c.Metric]
}

// checkLabel names the measured quantity in reasons.
func checkLabel(c contract.Check) string {
	switch {
	case c.Custom != nil:
		return c.Custom.Name
	case c.Metric == contract.MetricErrorRate:
		return "error rate"
	case c.Metric == contract.MetricLatency:
		return "p" + contract.QuantileDigits(c.Quantile) + " latency"
	case c.Metric == contract.MetricMemoryGrowth:
		return "memory growth"
	}
	return string(c.Metric)
}

// checkFormat renders a value of c's metric in its natural unit.
func checkFormat(c contract.Check, v float64) string {
	if c.Custom != nil {
		return sig(v)
	}
	switch c.Metric {
	case contract.MetricErrorRate:
		return sig(v*100) + "%"
	case contract.MetricLatency:
		if math.Abs(v) < 1 {
			return sig(v*1000) + "ms"
		}
		return sig(v) + "s"
	case contract.MetricCPU:
		return sig(v) + " cores"
	case contract.MetricMemory:
		return formatBytes(v)
	case contract.MetricMemoryGrowth:
		return formatBytes(v) + "/min"
	}
	return sig(v)
}

// formatBytes renders bytes with binary units, e.g. "312Mi", "1.2Gi".
func formatBytes(v float64) string {
	units := []string{"", "Ki", "Mi", "Gi", "Ti", "Pi"}
	i := 0
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return sig(v) + units[i]
}

// sig renders v with three significant digits (integers from 100 up), no
// exponent and no trailing zeros.
func sig(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	decimals := 2 - int(math.Floor(math.Log10(math.Abs(v))))
	decimals = min(max(decimals, 0), 9)
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
