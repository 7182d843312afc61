// Command rollbacklatency measures how fast rolloutd takes all traffic off a bad
// canary (router nginx: the canary Ingress deleted or its canary-weight set to 0,
// as seen by a watch), at one rollback at a time and with N rollouts rolled back
// at once:
//
//   - failed gate: from the daemon's "gate evaluated" log line (a bad canary,
//     error rate from the simulator) to weight 0;
//   - alert: from the Alertmanager webhook POST (one payload for all N) to
//     weight 0;
//
// and cross-checks both against the daemon's rolloutd_rollback_latency_seconds.
// The pods run on temporary kwok nodes (package capacity), removed at the end
// and on Ctrl-C. Run from the repository root with the sandbox up:
//
//	go run ./e2e/bench/rollbacklatency -n 1000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
)

type options struct {
	harness.SandboxFlags
	logDir     string
	bin        string
	n          int
	single     int
	errorRate  string
	kubeQPS    int
	rps        int
	soak       time.Duration
	timeout    time.Duration
	promDown   bool
	alertsOnly bool
	env        string
}

func main() { os.Exit(runMain()) }

func runMain() int {
	var o options
	o.Register(flag.CommandLine)
	flag.StringVar(&o.logDir, "log-dir", ".sandbox/logs", "where the daemon's log goes")
	flag.StringVar(&o.bin, "rolloutd", "", "rolloutd binary (empty: go build ./cmd/rolloutd)")
	flag.IntVar(&o.n, "n", 1000, "rollouts rolled back at once")
	flag.IntVar(&o.single, "single", 20, "rollbacks measured one at a time")
	flag.StringVar(&o.errorRate, "error-rate", "0.5", "the bad canary's simulated error rate")
	flag.IntVar(&o.kubeQPS, "kube-qps", 0, "ROLLOUTD_KUBE_QPS (burst twice that); 0 keeps the daemon's default")
	flag.IntVar(&o.rps, "rps", 10, "simulated requests per second of each app (the canary gets half)")
	flag.DurationVar(&o.soak, "soak", 20*time.Second, "how long canaries serve at 50% before their gate, so the analysis has data")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "bound of one level's run")
	flag.BoolVar(&o.promDown, "prometheus-down", false, "alerts only, with the measured daemon's Prometheus never answering and every gate due")
	flag.BoolVar(&o.alertsOnly, "alerts-only", false, "measure the alert path only (no failed gates first)")
	flag.StringVar(&o.env, "env", "", "extra ROLLOUTD_ settings of the measured daemon, comma-separated (e.g. ROLLOUTD_ROLLBACK_WORKERS=8)")
	flag.Parse()
	if o.n < 1 || o.single < 1 {
		fmt.Fprintln(os.Stderr, "rollbacklatency: -n and -single must be positive")
		return 2
	}
	if err := o.Resolve(); err != nil {
		fmt.Fprintln(os.Stderr, "rollbacklatency:", err)
		return 2
	}
	return harness.Main("rollbacklatency", func(ctx context.Context) error { return bench(ctx, o) })
}
