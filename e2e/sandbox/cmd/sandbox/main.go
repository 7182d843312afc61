// Command sandbox starts (up), inspects (status) and stops (down) the local
// cluster, Prometheus, Alertmanager and data-plane simulator that rolloutd's
// end-to-end tests and demo run against.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rolloutd/rolloutd/e2e/sandbox"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	seed := fs.Int64("seed", 0, "noise seed of the simulator (0: keep the running one or pick at random)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sandbox up [--seed N] | down | status")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	var err error
	switch args[0] {
	case "up":
		err = sandbox.Up(ctx, sandbox.UpOptions{Out: os.Stdout, Seed: *seed})
	case "down":
		err = sandbox.Down(ctx, os.Stdout)
	case "status":
		err = sandbox.Status(ctx, os.Stdout)
	default:
		fs.Usage()
		return 2
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
