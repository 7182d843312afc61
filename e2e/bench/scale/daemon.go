package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// daemon is a rolloutd process watching one namespace.
type daemon struct {
	cmd  *exec.Cmd
	addr string
	log  string
}

func startDaemon(o options, ns string) (*daemon, error) {
	bin := os.TempDir() + "/rolloutd-scale-bench"
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/rolloutd").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build rolloutd: %w\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	d := &daemon{addr: addr, log: os.TempDir() + "/rolloutd-scale-bench-" + ns + ".log"}
	logf, err := os.Create(d.log)
	if err != nil {
		return nil, err
	}
	d.cmd = exec.Command(bin)
	d.cmd.Env = append(os.Environ(), "KUBECONFIG="+o.kubeconfig, "ROLLOUTD_HTTP_ADDR="+addr,
		"ROLLOUTD_NAMESPACES="+ns, "ROLLOUTD_PROMETHEUS_URL="+o.prom, "ROLLOUTD_LEADER_ELECT=false",
		"ROLLOUTD_LOG_FORMAT=console", "ROLLOUTD_LOG_LEVEL=info")
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	return d, d.cmd.Start()
}

func (d *daemon) stop() { _ = d.cmd.Process.Kill(); _ = d.cmd.Wait() }

var syncedRE = regexp.MustCompile(`informer caches synced.*"took": "([^"]+)"`)

// syncTime is the informer sync duration the daemon logged, once it has.
func (d *daemon) syncTime() (time.Duration, bool) {
	b, _ := os.ReadFile(d.log)
	m := syncedRE.FindSubmatch(b)
	if m == nil {
		return 0, false
	}
	v, err := time.ParseDuration(string(m[1]))
	return v, err == nil
}

// memory reads VmRSS and VmHWM (peak) in MiB.
func (d *daemon) memory() (rss, peak float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "VmRSS":
			rss = kb / 1024
		case "VmHWM":
			peak = kb / 1024
		}
	}
	return rss, peak
}

// cpu is utime+stime in seconds.
func (d *daemon) cpu() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the ")" closing the command name; utime and stime are 14 and 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100 // USER_HZ
}

// metric sums every series of name on the daemon's /metrics.
func (d *daemon) metric(name string) float64 {
	return scrape("http://"+d.addr+"/metrics", name)
}

func scrape(url, name string) float64 {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return sumMetric(string(b), name)
}

func sumMetric(text, name string) float64 {
	total := 0.0
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			total += v
		}
	}
	return total
}
