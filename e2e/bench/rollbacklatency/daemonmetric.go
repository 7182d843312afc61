package main

import (
	"context"
	"fmt"
	"math"
	"strings"

	dto "github.com/prometheus/client_model/go"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
)

// histogram is one cause's rolloutd_rollback_latency_seconds as the daemon
// exposes it.
type histogram struct {
	count, sum float64
	// upper bounds and cumulative counts, ascending
	bounds, counts []float64
}

// Causes of rolloutd_rollback_latency_seconds.
const (
	causeGate  = "gate"
	causeAlert = "alert"
)

// scrapeDaemon keeps the measured daemon's histogram of cause.
func (r *run) scrapeDaemon(ctx context.Context, cause string) error {
	text, err := r.daemon.Metrics(ctx)
	if err != nil {
		return err
	}
	hs, err := rollbackHistograms(text)
	r.res.daemon[cause] = hs[cause]
	return err
}

func rollbackHistograms(text string) (map[string]histogram, error) {
	ms, err := harness.MetricFamily(strings.NewReader(text), "rolloutd_rollback_latency_seconds")
	if err != nil {
		return nil, fmt.Errorf("parse rolloutd metrics: %w", err)
	}
	out := map[string]histogram{}
	for _, m := range ms {
		out[harness.Labels(m)["cause"]] = fromProto(m.GetHistogram())
	}
	return out, nil
}

func fromProto(h *dto.Histogram) histogram {
	out := histogram{count: float64(h.GetSampleCount()), sum: h.GetSampleSum()}
	for _, b := range h.GetBucket() {
		out.bounds = append(out.bounds, b.GetUpperBound())
		out.counts = append(out.counts, float64(b.GetCumulativeCount()))
	}
	return out
}

// quantile interpolates linearly within the bucket holding rank q, as
// Prometheus's histogram_quantile does; above the last bound it returns that
// bound.
func (h histogram) quantile(q float64) float64 {
	if h.count == 0 {
		return math.NaN()
	}
	rank := q * h.count
	lower, below := 0.0, 0.0
	for i, ub := range h.bounds {
		if h.counts[i] >= rank {
			if h.counts[i] == below {
				return ub
			}
			return lower + (ub-lower)*(rank-below)/(h.counts[i]-below)
		}
		lower, below = ub, h.counts[i]
	}
	return lower
}

func (h histogram) mean() float64 {
	if h.count == 0 {
		return math.NaN()
	}
	return h.sum / h.count
}
