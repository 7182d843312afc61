package analysis

import (
	"context"
	"errors"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// metrics are the analyzer's own metrics. Labels are bounded: query kind, error
// reason, built-in check name (custom checks share "custom") and verdict; never a
// namespace or Deployment.
type metrics struct {
	queryDuration *prometheus.HistogramVec
	queryErrors   *prometheus.CounterVec
	checks        *prometheus.CounterVec
	evaluations   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		queryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rolloutd_analysis_query_duration_seconds",
			Help:    "Time of one Prometheus query attempt, by kind (instant or range).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"kind"}),
		queryErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rolloutd_analysis_query_errors_total",
			Help: "Failed Prometheus query attempts, by reason.",
		}, []string{"reason"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rolloutd_analysis_check_results_total",
			Help: "Check outcomes, by check name (custom checks as \"custom\") and verdict.",
		}, []string{"check", "verdict"}),
		evaluations: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rolloutd_analysis_evaluation_duration_seconds",
			Help:    "Time to evaluate every check of one gate.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.queryDuration, m.queryErrors, m.checks, m.evaluations)
	}
	return m
}

func (m *metrics) observeQuery(kind string, d time.Duration, err error) {
	m.queryDuration.WithLabelValues(kind).Observe(d.Seconds())
	if err != nil {
		m.queryErrors.WithLabelValues(errorReason(err)).Inc()
	}
}

func (m *metrics) observeResult(checks []contract.Check, r Result, d time.Duration) {
	m.evaluations.Observe(d.Seconds())
	for i, c := range r.Checks {
		name := c.Name
		if i < len(checks) && checks[i].Custom != nil {
			name = "custom"
		}
		m.checks.WithLabelValues(name, string(c.Verdict)).Inc()
	}
}

// errorReason maps a query error onto a small fixed set of label values.
func errorReason(err error) string {
	var apiErr *promv1.Error
	var shape *shapeError
	var warned *warningsError
	switch {
	case errors.As(err, &warned):
		return "warnings"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &shape):
		return "bad_response"
	case errors.As(err, &apiErr):
		return string(apiErr.Type) // one of promv1's seven error types
	}
	return "transport"
}
