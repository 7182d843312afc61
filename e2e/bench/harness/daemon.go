package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rolloutd/rolloutd/e2e/framework"
)

// DaemonOptions configure a rolloutd child process.
type DaemonOptions struct {
	// Bin is the rolloutd binary; empty builds ./cmd/rolloutd (run from the
	// repository root) into a temporary file.
	Bin        string
	Kubeconfig string
	// Namespace is the only namespace the daemon watches.
	Namespace string
	// Addr is ROLLOUTD_HTTP_ADDR; empty picks a free port on 127.0.0.1.
	Addr string
	// TokenFile enables the Alertmanager webhook with that bearer token.
	TokenFile string
	// LogDir receives the daemon's log, rolloutd-<namespace>.log unless LogName
	// names the file.
	LogDir, LogName string
	// PrometheusURL is ROLLOUTD_PROMETHEUS_URL; empty uses the sandbox's
	// (SandboxPrometheus).
	PrometheusURL string
	// Env adds or overrides ROLLOUTD_ variables, e.g. "ROLLOUTD_KUBE_QPS=200".
	Env []string
}

// Daemon is a running rolloutd.
type Daemon struct {
	r *framework.Rolloutd
	// Addr serves /metrics, /readyz and the webhook.
	Addr string
	// Log is the path of its console log.
	Log string
}

// StartDaemon starts rolloutd and waits until it answers /readyz.
func StartDaemon(ctx context.Context, o DaemonOptions) (*Daemon, error) {
	bin, err := daemonBinary(ctx, o.Bin)
	if err != nil {
		return nil, err
	}
	if o.Addr == "" {
		addr, err := framework.FreeAddr()
		if err != nil {
			return nil, err
		}
		o.Addr = addr.String()
	}
	if o.PrometheusURL == "" {
		if o.PrometheusURL, err = SandboxPrometheus(); err != nil {
			return nil, err
		}
	}
	if o.LogName == "" {
		o.LogName = "rolloutd-" + o.Namespace + ".log"
	}
	r := &framework.Rolloutd{Addr: o.Addr, Log: filepath.Join(o.LogDir, o.LogName), Bin: bin,
		Args: []string{"--kubeconfig", o.Kubeconfig}, Env: framework.RolloutdEnv(daemonVars(o), true),
		ReadyPath: "/readyz", ReadyTimeout: time.Minute}
	d := &Daemon{r: r, Addr: r.Addr, Log: r.Log}
	// Each run of a benchmark starts its log afresh.
	if err := os.WriteFile(d.Log, nil, 0o644); err != nil {
		return nil, fmt.Errorf("start rolloutd: %w", err)
	}
	if err := r.Start(ctx, o.Namespace); err != nil {
		d.Stop()
		return nil, fmt.Errorf("daemon not ready (log %s): %w", d.Log, err)
	}
	return d, nil
}

// daemonVars are the daemon's settings: the sandbox's, then o.Env's entries,
// a later one winning over an earlier one of the same name.
func daemonVars(o DaemonOptions) map[string]string {
	vars := framework.RolloutdVars(o.Addr, o.PrometheusURL, []string{o.Namespace})
	if o.TokenFile != "" {
		vars["ROLLOUTD_WEBHOOK_TOKEN_FILE"] = o.TokenFile
	}
	for _, kv := range o.Env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return vars
}

func daemonBinary(ctx context.Context, bin string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	bin = filepath.Join(os.TempDir(), "rolloutd-bench")
	if err := framework.BuildRolloutd(ctx, "", bin); err != nil {
		return "", fmt.Errorf("build rolloutd: %w", err)
	}
	return bin, nil
}

// Stop interrupts the daemon and waits for it to exit.
func (d *Daemon) Stop() {
	// A slow drain is waited for (the figures need a clean exit); SIGINT is sent
	// again each minute.
	for !d.r.Signal(syscall.SIGINT, time.Minute) {
	}
}

// Metrics returns the daemon's /metrics text.
func (d *Daemon) Metrics(ctx context.Context) (string, error) { return d.r.Metrics(ctx) }

// BuildDaemon builds ./cmd/rolloutd (run from the repository root) into a
// temporary file and returns its path.
func BuildDaemon(ctx context.Context) (string, error) { return daemonBinary(ctx, "") }
