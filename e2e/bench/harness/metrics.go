package harness

import (
	"io"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// MetricFamily parses a /metrics page (Prometheus text format) and returns the
// metrics of family name; none when the page has no such family.
func MetricFamily(page io.Reader, name string) ([]*dto.Metric, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(page)
	if err != nil {
		return nil, err
	}
	return fams[name].GetMetric(), nil
}

// Labels are a metric's labels by name.
func Labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, p := range m.GetLabel() {
		out[p.GetName()] = p.GetValue()
	}
	return out
}
