// Command rolloutd-sim is the sandbox's data-plane simulator: it routes
// simulated requests the way ingress-nginx, Istio and Services would and
// serves the resulting metrics for Prometheus. See package sim.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/rolloutd/rolloutd/e2e/sim"
)

func main() {
	os.Exit(run())
}

func run() int {
	cfg, err := sim.ParseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "rolloutd-sim:", err)
		return 2
	}
	log, err := zap.NewProduction()
	if err != nil {
		fmt.Fprintln(os.Stderr, "rolloutd-sim: logger:", err)
		return 1
	}
	defer func() { _ = log.Sync() }()
	log.Info("rolloutd-sim starting", zap.Int64("seed", cfg.Seed),
		zap.String("listen", cfg.Listen), zap.Duration("tick", cfg.Tick))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := sim.Run(ctx, cfg, log); err != nil {
		log.Error("rolloutd-sim failed", zap.Error(err))
		return 1
	}
	return 0
}
