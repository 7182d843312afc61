package main

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// fakeProm answers the analyzer's and the sampler's instant and range queries
// from one trial's simulated series, so the real query rendering and decision
// code is what the benchmark measures. It understands the nginx and cAdvisor
// templates of analysis/queries.go and the sampler's grouped queries
// (grouped.go) and nothing else: an unknown query is an error, which the
// analyzer turns into a failed check, so a template change cannot go unnoticed.
type fakeProm struct {
	promv1.API // nil: only Query and QueryRange are called
	t0         time.Time
	canary     *side
	stable     *side
	queries    atomic.Int64
}

var (
	windowRe   = regexp.MustCompile(`\[(\d+)s\]`)
	quantileRe = regexp.MustCompile(`histogram_quantile\(([0-9.]+)`)
)

func (f *fakeProm) Query(_ context.Context, q string, ts time.Time, _ ...promv1.Option) (model.Value, promv1.Warnings, error) {
	f.queries.Add(1)
	if vec, ok := f.grouped(q, ts); ok {
		return vec, nil, nil
	}
	if strings.HasPrefix(q, "ALERTS") {
		return model.Vector{}, nil, nil
	}
	if isStatuses(q) {
		ok, errs, err := f.statuses(q, ts)
		if err != nil {
			return nil, nil, err
		}
		t := model.TimeFromUnixNano(ts.UnixNano())
		return model.Vector{
			{Metric: model.Metric{"status": "200"}, Value: model.SampleValue(ok), Timestamp: t},
			{Metric: model.Metric{"status": "500"}, Value: model.SampleValue(errs), Timestamp: t},
		}, nil, nil
	}
	v, err := f.value(q, ts)
	if err != nil {
		return nil, nil, err
	}
	return model.Vector{{Metric: model.Metric{}, Value: model.SampleValue(v), Timestamp: model.TimeFromUnixNano(ts.UnixNano())}}, nil, nil
}

func (f *fakeProm) QueryRange(_ context.Context, q string, r promv1.Range, _ ...promv1.Option) (model.Value, promv1.Warnings, error) {
	f.queries.Add(1)
	if m, ok := f.groupedRange(q, r); ok {
		return m, nil, nil
	}
	if isStatuses(q) {
		return f.statusRange(q, r)
	}
	s := &model.SampleStream{Metric: model.Metric{}}
	for ts := r.Start; !ts.After(r.End); ts = ts.Add(r.Step) {
		v, err := f.value(q, ts)
		if err != nil {
			return nil, nil, err
		}
		if !math.IsNaN(v) {
			s.Values = append(s.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(ts.UnixNano()), Value: model.SampleValue(v)})
		}
	}
	return model.Matrix{s}, nil, nil
}

// value computes one query at ts from the series of the side it selects.
func (f *fakeProm) value(q string, ts time.Time) (float64, error) {
	s, end, w, err := f.at(q, ts)
	if err != nil {
		return 0, err
	}
	switch {
	case strings.Contains(q, "nginx_ingress_controller_request_duration_seconds_bucket"):
		m := quantileRe.FindStringSubmatch(q)
		if m == nil {
			break
		}
		quant, _ := strconv.ParseFloat(m[1], 64)
		return s.quantile(quant, end, w), nil
	case isStatuses(q):
		ok, errs, err := f.statuses(q, ts)
		return ok + errs, err
	case strings.Contains(q, "container_cpu_usage_seconds_total"):
		return s.cpuRate(end, w), nil
	case strings.Contains(q, "deriv(container_memory_working_set_bytes"):
		return s.memorySlope(end, w) * 60, nil
	case strings.Contains(q, "container_memory_working_set_bytes"):
		return s.memory(end), nil
	case strings.Contains(q, "container_cpu_load_average_10s"):
		return s.loadAvg(end, w), nil
	}
	return 0, fmt.Errorf("judgebench: query not understood: %s", q)
}

// isStatuses reports the request count by status.
func isStatuses(q string) bool {
	return strings.HasPrefix(q, "sum by (status) (increase(nginx_ingress_controller_requests{")
}

// statuses splits a side's requests in the query's window into 2xx and 5xx.
func (f *fakeProm) statuses(q string, ts time.Time) (ok, errs float64, err error) {
	s, end, w, err := f.at(q, ts)
	if err != nil {
		return 0, 0, err
	}
	errs = s.errors(end, w)
	return s.requests(end, w) - errs, errs, nil
}

// statusRange answers a statuses range query with one stream per status.
func (f *fakeProm) statusRange(q string, r promv1.Range) (model.Value, promv1.Warnings, error) {
	ok := &model.SampleStream{Metric: model.Metric{"status": "200"}}
	bad := &model.SampleStream{Metric: model.Metric{"status": "500"}}
	for ts := r.Start; !ts.After(r.End); ts = ts.Add(r.Step) {
		n, e, err := f.statuses(q, ts)
		if err != nil {
			return nil, nil, err
		}
		t := model.TimeFromUnixNano(ts.UnixNano())
		ok.Values = append(ok.Values, model.SamplePair{Timestamp: t, Value: model.SampleValue(n)})
		bad.Values = append(bad.Values, model.SamplePair{Timestamp: t, Value: model.SampleValue(e)})
	}
	return model.Matrix{ok, bad}, nil, nil
}

// second is the time of second t of the rollout.
func (f *fakeProm) second(t int) time.Time { return f.t0.Add(time.Duration(t) * time.Second) }

// at finds the side a query selects, the second ts falls on and the window.
func (f *fakeProm) at(q string, ts time.Time) (s *side, end, w int, err error) {
	end = int(ts.Sub(f.t0) / time.Second)
	s = f.stable
	if strings.Contains(q, `canary!=""`) || strings.Contains(q, `-canary-`) {
		s = f.canary
	}
	if m := windowRe.FindStringSubmatch(q); m != nil {
		w, _ = strconv.Atoi(m[1])
	}
	if !s.covers(end-w, end) {
		return nil, 0, 0, fmt.Errorf("judgebench: %q at %ds is outside the simulated %d..%ds", q, end, s.origin, s.origin+len(s.reqs)-1)
	}
	return s, end, w, nil
}
