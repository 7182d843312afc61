package sim

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// scrape gathers the store through a real registry, as /metrics does.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func matches(m *dto.Metric, want map[string]string) bool {
	got := labelsOf(m)
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// total sums a counter's (or histogram's count) series that carry the labels.
func total(t *testing.T, m *Metrics, name string, want map[string]string) float64 {
	t.Helper()
	f := scrape(t, m)[name]
	sum := 0.0
	for _, s := range f.GetMetric() {
		if !matches(s, want) {
			continue
		}
		switch {
		case s.Counter != nil:
			sum += s.GetCounter().GetValue()
		case s.Histogram != nil:
			sum += float64(s.GetHistogram().GetSampleCount())
		case s.Gauge != nil:
			sum += s.GetGauge().GetValue()
		}
	}
	return sum
}

// seriesWith counts every series of any family carrying the labels.
func seriesWith(t *testing.T, m *Metrics, want map[string]string) int {
	t.Helper()
	n := 0
	for _, f := range scrape(t, m) {
		for _, s := range f.GetMetric() {
			if matches(s, want) {
				n++
			}
		}
	}
	return n
}
