package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
)

// daemon is a rolloutd process watching one namespace, with profiles enabled.
type daemon struct{ *harness.Daemon }

func startDaemon(ctx context.Context, o options, ns string) (*daemon, error) {
	d, err := harness.StartDaemon(ctx, harness.DaemonOptions{
		Kubeconfig: o.Kubeconfig, Namespace: ns, LogDir: os.TempDir(),
		PrometheusURL: o.Prometheus, Env: []string{"ROLLOUTD_PPROF=true"},
	})
	return &daemon{d}, err
}

var syncedRE = regexp.MustCompile(`informer caches synced.*"took": "([^"]+)"`)

// syncTime is the informer sync duration the daemon logged, once it has.
func (d *daemon) syncTime() (time.Duration, bool) {
	b, _ := os.ReadFile(d.Log)
	m := syncedRE.FindSubmatch(b)
	if m == nil {
		return 0, false
	}
	v, err := time.ParseDuration(string(m[1]))
	return v, err == nil
}

// memory reads VmRSS and VmHWM (peak) in MiB.
func (d *daemon) memory() (rss, peak float64) {
	m := d.Memory()
	return m["VmRSS"], m["VmHWM"]
}

// idleMemory forces a garbage collection (through the heap profile endpoint) and
// returns the RSS once it stops falling: sampled every second until two samples
// are within 0.25 MiB, at most 30 s.
func (d *daemon) idleMemory(ctx context.Context) (rss, peak float64) {
	_ = get("http://" + d.Addr + "/debug/pprof/heap?gc=1")
	rss, peak = d.memory()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for range 30 {
		select {
		case <-ctx.Done():
			return rss, peak
		case <-tick.C:
		}
		next, p := d.memory()
		if rss-next < 0.25 {
			return next, p
		}
		rss, peak = next, p
	}
	return rss, peak
}

// saveProfile writes the daemon's /debug/pprof/<which> profile to path (go tool
// pprof reads it).
func (d *daemon) saveProfile(which, path string) error {
	resp, err := http.Get("http://" + d.Addr + "/debug/pprof/" + which)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// metric sums every series of name on the daemon's /metrics.
func (d *daemon) metric(name string) float64 {
	total := 0.0
	for _, v := range d.series(name) {
		total += v
	}
	return total
}

// series returns every series of name on the daemon's /metrics by its labels
// ("" for a series without labels).
func (d *daemon) series(name string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(get("http://"+d.Addr+"/metrics"), "\n") {
		labels, ok := strings.CutPrefix(line, name)
		if !ok || (labels != "" && labels[0] != '{' && labels[0] != ' ') {
			continue
		}
		i := strings.LastIndexByte(labels, ' ')
		v, _ := strconv.ParseFloat(labels[i+1:], 64)
		out[strings.Trim(labels[:i], "{}")] += v
	}
	return out
}

func get(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// histogramSums are the sums and counts of the daemon's latency histograms.
type histogramSums map[string]float64

var meanOf = []string{"rolloutd_analysis_query_duration_seconds", "rolloutd_gate_duration_seconds", "rolloutd_reconcile_duration_seconds"}

func (d *daemon) means() histogramSums {
	out := histogramSums{}
	for _, h := range meanOf {
		out[h+"_sum"], out[h+"_count"] = d.metric(h+"_sum"), d.metric(h+"_count")
	}
	return out
}

// since returns the mean query, gate and reconcile times between before and h.
func (h histogramSums) since(before histogramSums) (query, gate, reconcile time.Duration) {
	mean := func(name string) time.Duration {
		n := h[name+"_count"] - before[name+"_count"]
		if n <= 0 {
			return 0
		}
		return time.Duration((h[name+"_sum"] - before[name+"_sum"]) / n * float64(time.Second))
	}
	return mean(meanOf[0]), mean(meanOf[1]), mean(meanOf[2])
}
