// Command alertlatency measures alert-driven rollback on the sandbox: how long from
// an Alertmanager webhook request arriving at rolloutd to the canary's traffic
// reaching 0 in the API server, over many rollouts, and from an alert becoming
// active in Prometheus (real rule, real Alertmanager) to the same point. It prints
// tables; run it with the sandbox up:
//
//	go build -o bin/ ./cmd/rolloutd && go run ./e2e/bench/alertlatency -rollouts 50
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

type options struct {
	root       string
	rollouts   int
	viaAM      int
	flaggerSec float64
}

func main() { os.Exit(run()) }

func run() int {
	var o options
	flag.IntVar(&o.rollouts, "rollouts", 50, "rollouts rolled back through the webhook")
	flag.IntVar(&o.viaAM, "via-alertmanager", 5, "rollouts rolled back by a Prometheus rule through Alertmanager")
	flag.Float64Var(&o.flaggerSec, "flagger-worst", 300, "Flagger's worst case with its defaults in seconds (interval 1m x threshold 5)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "alertlatency:", err)
		return 2
	}
	o.root = wd
	if _, err := os.Stat(filepath.Join(wd, ".sandbox", "kubeconfig")); err != nil {
		fmt.Fprintln(os.Stderr, "alertlatency: run from the repository root with the sandbox up (make sandbox)")
		return 2
	}
	if err := bench(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "alertlatency:", err)
		return 1
	}
	return 0
}

// stats are order statistics of a sample of durations.
type stats struct {
	n             int
	p50, p99, max time.Duration
}

func summarise(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		return s[i]
	}
	return stats{n: len(s), p50: at(0.50), p99: at(0.99), max: s[len(s)-1]}
}

func (s stats) row(name string) string {
	return fmt.Sprintf("| %-44s | %4d | %9s | %9s | %9s |", name, s.n,
		s.p50.Round(100*time.Microsecond), s.p99.Round(100*time.Microsecond), s.max.Round(100*time.Microsecond))
}
