package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// report is the run's output: machine, versions, settings, commands, table.
type report struct {
	o                     options
	tools                 []tool
	figs                  []toolFigures
	loadBefore, loadAfter string
	took                  time.Duration
	phases                string // each phase's duration
	kubeVersion, promVer  string
}

// collect reads the versions of the sandbox's components.
func (r *report) collect(ctx context.Context, b *bench) {
	if v, err := b.kube.Discovery().ServerVersion(); err == nil {
		r.kubeVersion = v.GitVersion
	}
	r.promVer = prometheusVersion(ctx, b.promURL)
}

func prometheusVersion(ctx context.Context, url string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v1/status/buildinfo", nil)
	if err != nil {
		return "?"
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "?"
	}
	defer resp.Body.Close()
	var body struct {
		Data struct{ Version string } `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil {
		return "?"
	}
	return body.Data.Version
}

func (r *report) write(w io.Writer) {
	fmt.Fprintf(w, "\n## rolloutd and Flagger side by side (make bench-peers)\n\n")
	fmt.Fprintf(w, "- date: %s; run took %s (%s)\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), r.took.Round(time.Second), r.phases)
	fmt.Fprintf(w, "- machine: %s, %d cores, %s; load before `%s`, after `%s` (shared machine: rely on the ratios)\n",
		cpuModel(), runtime.NumCPU(), memTotal(), r.loadBefore, r.loadAfter)
	fmt.Fprintf(w, "- versions: %s; Kubernetes %s (sandbox: kube-apiserver, controller-manager, scheduler, kwok nodes); Prometheus %s (scrape 1s); data plane: the sandbox simulator (ingress-nginx canary annotations); %s\n",
		r.versions(), r.kubeVersion, r.promVer, runtime.Version())
	fmt.Fprintf(w, "- apps: Deployment (1 replica), Service (%d rps) and Ingress each; bad release = new image and sim.rolloutd.io/error-rate %s; healthy release = new image\n", appRPS, badShare)
	fmt.Fprintf(w, "- both run out of cluster with the sandbox's admin credentials behind a counting relay to the API server and one to Prometheus; %s; the scale phase one tool at a time, beside the same %d other Deployments (made once; each tool's apps removed before the next starts), apps enrolled %d at a time (the next batch once these are taken over), interval 10s settings, each wait bounded by %s\n", r.releaseMode(), r.o.others, r.o.enrollBatch, r.o.scaleBound)
	fmt.Fprintf(w, "- API client limits of both: %d QPS / burst %d (defaults rolloutd 100 / 200, Flagger 100 / 250; Flagger's default throttles its per-canary ticks at 200 canaries: about 11 requests per canary per tick at interval 10s is 220 requests/s)\n", r.o.kubeQPS, r.o.kubeBurst)
	for _, t := range r.tools {
		fmt.Fprintf(w, "- %s, %s: %s\n", t.name(), tuned.name, t.settings(tuned))
		fmt.Fprintf(w, "- %s, %s: %s\n", t.name(), defaults.name, t.settings(defaults))
		fmt.Fprintf(w, "- %s started as: `%s`\n", t.name(), t.command())
	}
	fmt.Fprintf(w, "- rerun: `make bench-peers` (flags through BENCH_PEERS_FLAGS) or `go run ./e2e/bench/peers %s` with the sandbox up\n", r.flags())
	fmt.Fprintf(w, "- ratio: rolloutd ÷ Flagger; below 1 means rolloutd took less time, memory, CPU or requests\n\n")
	var rows []row
	figs := r.figs
	for len(figs) < 2 {
		figs = append(figs, toolFigures{name: "(not run)"})
	}
	a, b := figs[0], figs[1]
	if a.ranReleases && b.ranReleases {
		rows = append(rows, releaseRows(a.rel, b.rel)...)
	}
	rows = append(rows, scaleRows(a.sizes, b.sizes, r.o.others, r.o.scaleBound)...)
	renderTable(w, a.name, b.name, rows)
}

func (r *report) releaseMode() string {
	if r.o.serial {
		return "the release phase one tool after the other"
	}
	return "the release phase of both at once (bound by the tools' ticks, not by CPU), each tool on namespaces and processes of its own, the Prometheus-down release on a second process of the tool so its outage reaches no other release"
}

func (r *report) versions() string {
	var parts []string
	for _, f := range r.figs {
		parts = append(parts, f.name+" "+f.version)
	}
	return strings.Join(parts, ", ")
}

func (r *report) flags() string {
	var phases []string
	for _, p := range []string{"releases", "scale"} {
		if r.o.phases[p] {
			phases = append(phases, p)
		}
	}
	counts := make([]string, len(r.o.canaries))
	for i, n := range r.o.canaries {
		counts[i] = fmt.Sprint(n)
	}
	serial := ""
	if r.o.serial {
		serial = " -serial"
	}
	return fmt.Sprintf("-phases %s -canaries %s -others %d -idle %s -prom-down %s -scale-bound %s -enroll-batch %d -kube-qps %d -kube-burst %d%s", strings.Join(phases, ","),
		strings.Join(counts, ","), r.o.others, r.o.idle, r.o.promDown, r.o.scaleBound, r.o.enrollBatch, r.o.kubeQPS, r.o.kubeBurst, serial)
}

func uptime() string {
	out, err := exec.Command("uptime").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return fmt.Sprintf("%.0f GiB RAM", kb/1024/1024)
		}
	}
	return "?"
}
