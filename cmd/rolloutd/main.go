// Command rolloutd is the progressive delivery daemon: it watches opted-in
// Deployments and releases each new pod template as a measured canary.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/rolloutd/rolloutd/internal/app"
	"github.com/rolloutd/rolloutd/internal/config"
	"github.com/rolloutd/rolloutd/internal/logging"
)

func main() { os.Exit(run()) }

func run() int {
	kubeconfig := flag.String("kubeconfig", "", "path to a kubeconfig (out of cluster; default $KUBECONFIG)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rolloutd:", err)
		return 2
	}
	if *kubeconfig != "" {
		cfg.Kubeconfig = *kubeconfig
	}
	log, err := logging.New(cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rolloutd:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	if err := app.Run(ctx, cfg, log); err != nil {
		log.Error("rolloutd failed", zap.Error(err))
		return 1
	}
	return 0
}
