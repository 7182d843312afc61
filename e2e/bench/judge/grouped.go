package main

import (
	"strconv"
	"strings"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// The shared sampler's grouped queries (analysis/sampler_queries.go): raw
// counters and gauges of every side by the labels that tell sides, statuses,
// buckets and pods apart, the request and bucket groups with their scrape time
// (the rolloutd_scraped series). The fake names its series as ingress-nginx and
// cAdvisor do in the sandbox; a side has no series before its first second.
const (
	benchNamespace = "bench"
	canaryBackend  = "bench-app-canary-80" // ingress-nginx's canary label: the canary Service's upstream
	scrapedLabel   = "rolloutd_scraped"
)

// podName is a pod of the stable ("app") or canary ("app-canary") Deployment,
// named as the API server names a ReplicaSet's pods.
func podName(canary bool, p int) string {
	if canary {
		return "app-canary-7f9c5b8d4-p" + strconv.Itoa(1000+p)
	}
	return "app-6d4cf56db6-p" + strconv.Itoa(1000+p)
}

// groupedSeries answers one grouped family for one side at second t.
type groupedSeries func(s *side, canary bool, t int, at model.Time) model.Vector

// groupedFamily recognises a grouped query by its start.
func groupedFamily(q string) groupedSeries {
	switch {
	case strings.HasPrefix(q, "sum by (namespace, ingress, canary, status) (nginx_ingress_controller_requests{"):
		return requestSeries
	case strings.HasPrefix(q, "sum by (namespace, ingress, canary, le) (nginx_ingress_controller_request_duration_seconds_bucket{"):
		return bucketSeries
	case strings.HasPrefix(q, "sum by (namespace, pod) (container_cpu_usage_seconds_total{"):
		return podSeries(func(s *side, p, i int) float64 { return s.cpu[p][i] })
	case strings.HasPrefix(q, "sum by (namespace, pod) (container_cpu_load_average_10s{"):
		return podSeries(func(s *side, p, i int) float64 { return s.load[p][i] })
	case strings.HasPrefix(q, "sum by (namespace, pod) (container_memory_working_set_bytes{"):
		return podSeries(func(s *side, p, i int) float64 { return s.mem[p][i] })
	}
	return nil
}

// grouped answers a grouped query at ts; ok is false for any other query.
func (f *fakeProm) grouped(q string, ts time.Time) (vec model.Vector, ok bool) {
	fam := groupedFamily(q)
	if fam == nil {
		return nil, false
	}
	t := int(ts.Sub(f.t0) / time.Second)
	at := model.TimeFromUnixNano(ts.UnixNano())
	vec = model.Vector{}
	for _, sd := range []struct {
		s      *side
		canary bool
	}{{f.canary, true}, {f.stable, false}} {
		if sd.s.covers(t, t) {
			vec = append(vec, fam(sd.s, sd.canary, t, at)...)
		}
	}
	return vec, true
}

// groupedRange answers a grouped range query, one stream per series.
func (f *fakeProm) groupedRange(q string, r promv1.Range) (model.Matrix, bool) {
	if groupedFamily(q) == nil {
		return nil, false
	}
	streams := map[model.Fingerprint]*model.SampleStream{}
	var out model.Matrix
	for ts := r.Start; !ts.After(r.End); ts = ts.Add(r.Step) {
		vec, _ := f.grouped(q, ts)
		for _, s := range vec {
			ss := streams[s.Metric.Fingerprint()]
			if ss == nil {
				ss = &model.SampleStream{Metric: s.Metric}
				streams[s.Metric.Fingerprint()] = ss
				out = append(out, ss)
			}
			ss.Values = append(ss.Values, model.SamplePair{Timestamp: s.Timestamp, Value: s.Value})
		}
	}
	return out, true
}

// nginxGroup is the labels of a side's ingress-nginx group.
func nginxGroup(canary bool) model.Metric {
	m := model.Metric{"namespace": benchNamespace, "ingress": "app", "canary": ""}
	if canary {
		m["canary"] = canaryBackend
	}
	return m
}

// scraped is the group's scrape-time series: the fake scrapes at every second.
func scraped(canary bool, at model.Time) *model.Sample {
	m := nginxGroup(canary)
	m[scrapedLabel] = "true"
	return &model.Sample{Metric: m, Value: model.SampleValue(float64(at) / 1000), Timestamp: at}
}

func requestSeries(s *side, canary bool, t int, at model.Time) model.Vector {
	i := s.idx(t)
	ok, bad := nginxGroup(canary), nginxGroup(canary)
	ok["status"], bad["status"] = "200", "500"
	return model.Vector{
		{Metric: ok, Value: model.SampleValue(s.reqs[i] - s.errs[i]), Timestamp: at},
		{Metric: bad, Value: model.SampleValue(s.errs[i]), Timestamp: at},
		scraped(canary, at),
	}
}

func bucketSeries(s *side, canary bool, t int, at model.Time) model.Vector {
	var out model.Vector
	for le, n := range s.histogram(t) {
		m := nginxGroup(canary)
		m[model.BucketLabel] = model.LabelValue(strconv.FormatFloat(le, 'g', -1, 64))
		out = append(out, &model.Sample{Metric: m, Value: model.SampleValue(n), Timestamp: at})
	}
	return append(out, scraped(canary, at))
}

// podSeries answers a cAdvisor family from one per-pod series of a side.
func podSeries(value func(s *side, p, i int) float64) groupedSeries {
	return func(s *side, canary bool, t int, at model.Time) model.Vector {
		var out model.Vector
		for p := range s.pods {
			m := model.Metric{"namespace": benchNamespace, "pod": model.LabelValue(podName(canary, p))}
			out = append(out, &model.Sample{Metric: m, Value: model.SampleValue(value(s, p, s.idx(t))), Timestamp: at})
		}
		return out
	}
}
