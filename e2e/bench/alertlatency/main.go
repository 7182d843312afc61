// Command alertlatency measures alert-driven rollback on the sandbox: how long from
// an Alertmanager webhook request arriving at rolloutd to the canary's traffic
// reaching 0 in the API server, over many rollouts, and from an alert becoming
// active in Prometheus (real rule, real Alertmanager) to the same point. It prints
// tables; run it with the sandbox up:
//
//	go run ./e2e/bench/alertlatency -rollouts 50
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
)

func main() { os.Exit(run()) }

func run() int {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "alertlatency:", err)
		return 2
	}
	return harness.Main("alertlatency", func(ctx context.Context) error { return bench(ctx, o) })
}

type options struct {
	root       string
	rollouts   int
	viaAM      int
	flaggerSec float64
}

// parseFlags reads the flags; the run needs the repository root (the current
// directory) with the sandbox up.
func parseFlags() (options, error) {
	var o options
	flag.IntVar(&o.rollouts, "rollouts", 50, "rollouts rolled back through the webhook")
	flag.IntVar(&o.viaAM, "via-alertmanager", 5, "rollouts rolled back by a Prometheus rule through Alertmanager")
	flag.Float64Var(&o.flaggerSec, "flagger-worst", 300, "Flagger's worst case with its defaults in seconds (interval 1m x threshold 5)")
	flag.Parse()
	wd, err := os.Getwd()
	if err != nil {
		return o, err
	}
	o.root = wd
	if _, err := os.Stat(filepath.Join(wd, ".sandbox", "kubeconfig")); err != nil {
		return o, errors.New("run from the repository root with the sandbox up (make sandbox)")
	}
	return o, nil
}
