package harness

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Main runs the body of benchmark program name under a context that SIGINT or
// SIGTERM ends, so that an interrupted run still removes its namespaces and
// nodes, and returns the process' exit code: 0, or 1 after printing
// "name: error" when run fails.
func Main(name string, run func(context.Context) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	return 0
}

// SandboxFlags are the flags of a benchmark program that runs against the
// sandbox: -kubeconfig and -prometheus.
type SandboxFlags struct {
	Kubeconfig string
	// Prometheus is the URL the measured daemon queries; Resolve fills in the
	// sandbox's when the flag is left empty.
	Prometheus string
}

// Register defines the flags on fs.
func (s *SandboxFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&s.Kubeconfig, "kubeconfig", ".sandbox/kubeconfig", "sandbox kubeconfig")
	fs.StringVar(&s.Prometheus, "prometheus", "", "Prometheus URL (empty: the sandbox's, from .sandbox/env)")
}

// Resolve sets Prometheus to the running sandbox's when -prometheus was empty.
func (s *SandboxFlags) Resolve() error {
	if s.Prometheus != "" {
		return nil
	}
	var err error
	s.Prometheus, err = SandboxPrometheus()
	return err
}
