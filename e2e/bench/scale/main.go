// Command scale measures rolloutd at scale on the sandbox: N Deployments of which
// M opt in and roll at once (router service, one step of 50%, -interval), released
// together or spread over -spread. It prints, per size, the daemon's start time
// (informer sync), idle and peak RSS, CPU seconds, API requests and Prometheus
// queries per gate, and the delay between a step's deadline and its write; then the
// growth ratios between the sizes. A size with M = 0 measures only start and idle
// memory.
//
//	go run ./e2e/bench/scale -sizes 100:10,1000:100
//	go run ./e2e/bench/scale -sizes 10000:0 -heap-profile /tmp/heap.pb.gz
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
)

type options struct {
	harness.SandboxFlags
	sizes       []size
	timeout     time.Duration
	interval    time.Duration // rolloutd.io/interval of the rolling Deployments
	spread      time.Duration // releases spread evenly over this long (0: all at once)
	heapProfile string        // where to save the daemon's idle heap profile
	cpuProfile  string        // where to save a CPU profile of the daemon from the release on
}

type size struct{ total, rolling int }

func main() { os.Exit(run()) }

func run() int {
	var o options
	var sizes string
	o.Register(flag.CommandLine)
	flag.StringVar(&sizes, "sizes", "100:10,1000:100", "comma list of DEPLOYMENTS:ROLLING")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "bound of one size's run")
	flag.DurationVar(&o.interval, "interval", 2*time.Second, "rolloutd.io/interval of the rolling Deployments")
	flag.DurationVar(&o.spread, "spread", 0, "spread the releases evenly over this long (0: all at once)")
	flag.StringVar(&o.cpuProfile, "cpu-profile", "", "save a 30 s CPU profile of the daemon, from the release on, to this file (suffixed by the size)")
	flag.StringVar(&o.heapProfile, "heap-profile", "", "save the daemon's heap profile at idle to this file (suffixed by the size)")
	flag.Parse()
	err := o.Resolve()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		return 2
	}
	if o.sizes, err = parseSizes(sizes); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// Ctrl-C ends the run early; the namespace and nodes are still removed.
	interrupted, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var rows []result
	for _, s := range o.sizes {
		ctx, cancel := context.WithTimeout(interrupted, o.timeout)
		r, err := measure(ctx, o, s)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "size %d/%d: %v\n", s.total, s.rolling, err)
			return 1
		}
		rows = append(rows, r)
	}
	printTable(os.Stdout, rows)
	return 0
}

func parseSizes(s string) ([]size, error) {
	var out []size
	for _, f := range strings.Split(s, ",") {
		a, b, ok := strings.Cut(f, ":")
		n, err1 := strconv.Atoi(a)
		m, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || m > n || m < 0 || n < 1 {
			return nil, fmt.Errorf("size %q: want DEPLOYMENTS:ROLLING with 0 <= ROLLING <= DEPLOYMENTS", f)
		}
		out = append(out, size{n, m})
	}
	return out, nil
}
