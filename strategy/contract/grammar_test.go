package contract

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract/contracttest"
)

func TestParseChecksAcceptsEveryForm(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Check
		name string
		text string // String(), the canonical form
	}{
		{"error-rate<=1%+baseline", Check{Metric: MetricErrorRate, Mode: BaselinePlus, Bound: 0.01}, "error-rate", "error-rate<=1%+baseline"},
		{"error-rate <= 1.5% + baseline", Check{Metric: MetricErrorRate, Mode: BaselinePlus, Bound: 0.015}, "error-rate", "error-rate<=1.5%+baseline"},
		{"error-rate<=2%", Check{Metric: MetricErrorRate, Mode: Absolute, Bound: 0.02}, "error-rate", "error-rate<=2%"},
		{"latency-p99<=1.2x", Check{Metric: MetricLatency, Quantile: 0.99, Mode: Ratio, Bound: 1.2}, "latency-p99", "latency-p99<=1.2x"},
		{"latency-p50<=1.5x", Check{Metric: MetricLatency, Quantile: 0.5, Mode: Ratio, Bound: 1.5}, "latency-p50", "latency-p50<=1.5x"},
		{"latency-p90<=250ms", Check{Metric: MetricLatency, Quantile: 0.9, Mode: Absolute, Bound: 0.25}, "latency-p90", "latency-p90<=250ms"},
		{"latency-p99<=0.5s", Check{Metric: MetricLatency, Quantile: 0.99, Mode: Absolute, Bound: 0.5}, "latency-p99", "latency-p99<=500ms"},
		{"cpu<=1.3x", Check{Metric: MetricCPU, Mode: Ratio, Bound: 1.3}, "cpu", "cpu<=1.3x"},
		{"cpu<=1e-6x", Check{Metric: MetricCPU, Mode: Ratio, Bound: 1e-6}, "cpu", "cpu<=0.000001x"},
		{"cpu<=500m", Check{Metric: MetricCPU, Mode: Absolute, Bound: 0.5}, "cpu", "cpu<=500m"},
		{"cpu<=2", Check{Metric: MetricCPU, Mode: Absolute, Bound: 2}, "cpu", "cpu<=2000m"},
		{"memory<=1.3x", Check{Metric: MetricMemory, Mode: Ratio, Bound: 1.3}, "memory", "memory<=1.3x"},
		{"memory<=256Mi", Check{Metric: MetricMemory, Mode: Absolute, Bound: 256 << 20}, "memory", "memory<=256Mi"},
		{"memory<=1G", Check{Metric: MetricMemory, Mode: Absolute, Bound: 1e9}, "memory", "memory<=1000000000"},
		{"memory<=2e9", Check{Metric: MetricMemory, Mode: Absolute, Bound: 2e9}, "memory", "memory<=1953125Ki"},
		{"memory<=1Ti", Check{Metric: MetricMemory, Mode: Absolute, Bound: 1 << 40}, "memory", "memory<=1Ti"},
		{"cpu<=64E-3", Check{Metric: MetricCPU, Mode: Absolute, Bound: 0.064}, "cpu", "cpu<=64m"},
		{"cpu<=50000011000", Check{Metric: MetricCPU, Mode: Absolute, Bound: 50000011000}, "cpu", "cpu<=50000011000000m"},
		{"load<=1.5x", Check{Metric: MetricLoad, Mode: Ratio, Bound: 1.5}, "load", "load<=1.5x"},
		{"load<=2", Check{Metric: MetricLoad, Mode: Absolute, Bound: 2}, "load", "load<=2"},
		{"alerts", Check{Metric: MetricAlerts, Mode: NoneFiring}, "alerts", "alerts"},
		{"memory-growth", Check{Metric: MetricMemoryGrowth, Mode: BaselinePlus, Bound: 1 << 20}, "memory-growth", "memory-growth"},
		{"memory-growth<=4Mi+baseline", Check{Metric: MetricMemoryGrowth, Mode: BaselinePlus, Bound: 4 << 20}, "memory-growth", "memory-growth<=4Mi+baseline"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseChecks(tc.in)
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, tc.want.Metric, got[0].Metric)
			assert.Equal(t, tc.want.Mode, got[0].Mode)
			assert.InDelta(t, tc.want.Quantile, got[0].Quantile, 1e-12)
			assert.InDelta(t, tc.want.Bound, got[0].Bound, 1e-9)
			assert.Equal(t, tc.name, got[0].Name())
			assert.Equal(t, tc.text, got[0].String())
			again, err := ParseChecks(got[0].String())
			require.NoError(t, err, "String() must parse back")
			assert.InDelta(t, got[0].Bound, again[0].Bound, 1e-9)
		})
	}
}

func TestParseChecksDefault(t *testing.T) {
	got, err := ParseChecks(DefaultChecks)
	require.NoError(t, err)
	var names []string
	for _, c := range got {
		names = append(names, c.Name())
	}
	assert.Equal(t, []string{"error-rate", "cpu", "memory", "load", "memory-growth"}, names)
}

func TestParseChecksRejectsWithClearErrors(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want: the part of the message after the item
	}{
		{"", `invalid check: no checks given (accepted: ...`},
		{"cpu<=1.3x,,load<=2", `invalid check: item 2 is empty (accepted: ...`},
		{"cpu<=1.3x,", `invalid check: item 2 is empty (accepted: ...`},
		{"cpu", `invalid check: "cpu": expected NAME<=BOUND or "alerts" (accepted: ...`},
		{"cpu<1.3x", `invalid check: "cpu<1.3x": expected NAME<=BOUND or "alerts" (accepted: ...`},
		{"cpu<=", `invalid check: "cpu<=": missing bound after <= (accepted: ...`},
		{"disk<=1.3x", `invalid check: "disk<=1.3x": unknown check "disk" (accepted: ...`},
		{"cpu<=fast", `invalid check: "cpu<=fast": cpu bound "fast" must be a factor like 1.3x or a quantity like 500m (accepted: ...`},
		{"cpu<=-1", `invalid check: "cpu<=-1": cpu bound "-1" must be a factor like 1.3x or a quantity like 500m (accepted: ...`},
		{"cpu<=0x", `invalid check: "cpu<=0x": cpu bound "0x" must be a factor like 1.3x or a quantity like 500m (accepted: ...`},
		{"cpu<=1e-7x", `invalid check: "cpu<=1e-7x": cpu bound "1e-7x" must be a factor like 1.3x or a quantity like 500m (accepted: ...`},
		{"memory<=lots", `invalid check: "memory<=lots": memory bound "lots" must be a factor like 1.3x or a quantity like 256Mi (accepted: ...`},
		{"load<=high", `invalid check: "load<=high": load bound "high" must be a factor like 1.5x or a number like 2 (accepted: ...`},
		{"error-rate<=2", `invalid check: "error-rate<=2": error-rate bound "2" must be a percentage like 2% or 1%+baseline (accepted: ...`},
		{"error-rate<=1.2x", `invalid check: "error-rate<=1.2x": error-rate bound "1.2x" must be a percentage like 2% or 1%+baseline (accepted: ...`},
		{"error-rate<=150%", `invalid check: "error-rate<=150%": error-rate bound "150%" must be a percentage between 0% and 100% (accepted: ...`},
		{"latency-p100<=1.2x", `invalid check: "latency-p100<=1.2x": unknown latency quantile "p100", want p50, p90, p99 (any p01..p99) (accepted: ...`},
		{"latency<=1.2x", `invalid check: "latency<=1.2x": unknown check "latency" (accepted: ...`},
		{"latency-p99<=500", `invalid check: "latency-p99<=500": latency bound "500" must be a factor like 1.2x or a duration like 500ms or 0.5s (accepted: ...`},
		{"latency-p99<=NaNms", `invalid check: "latency-p99<=NaNms": latency bound "NaNms" must be a factor like 1.2x or a duration like 500ms or 0.5s (accepted: ...`},
		// ParseQuantity computes a decimal exponent in arbitrary precision: this one ran for minutes.
		{"cpu<=100E001000000000500000", `invalid check: "cpu<=100E001000000000500000": cpu bound "100E001000000000500000" must be a factor like 1.3x or a quantity like 500m (accepted: ...`},
		{"memory<=1e-31", `invalid check: "memory<=1e-31": memory bound "1e-31" must be a factor like 1.3x or a quantity like 256Mi (accepted: ...`},
		{"memory<=1Ei", `invalid check: "memory<=1Ei": memory bound "1Ei" must be a factor like 1.3x or a quantity like 256Mi (accepted: ...`},
		{"cpu<=1.3x, cpu<=500m", `invalid check: "cpu<=500m": check cpu already given as "cpu<=1.3x"; give one bound per check`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseChecks(tc.in)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalidCheck))
			contracttest.AssertMessage(t, tc.want, err.Error())
		})
	}
}
