// Command rolloutctl watches and steers rolloutd's progressive rollouts. Installed
// (or symlinked) as kubectl-rollouts it is also the kubectl plugin `kubectl rollouts`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rolloutd/rolloutd/internal/cli"
	"golang.org/x/term"
)

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := &cli.App{
		Out:      os.Stdout,
		Err:      os.Stderr,
		Terminal: term.IsTerminal(int(os.Stdout.Fd())),
	}
	return cli.Execute(ctx, app, cli.DisplayName(os.Args[0]), os.Args[1:])
}
