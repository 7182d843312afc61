package framework

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DaemonOptions configure a rolloutd process started by StartDaemon.
type DaemonOptions struct {
	// Namespaces the daemon watches (ROLLOUTD_NAMESPACES); empty = all.
	Namespaces []string
	// Env adds or overrides variables, e.g. ROLLOUTD_WEBHOOK_TOKEN_FILE
	// (Env.WebhookTokenFile is the token Alertmanager sends), or KUBECONFIG
	// (a ServiceAccountKubeconfig, to run with exactly the chart's rights).
	Env map[string]string
	// Args are extra command-line arguments.
	Args []string
}

// Daemon is a rolloutd process running against the sandbox.
type Daemon struct {
	// Addr is the host:port of its HTTP server (/metrics, /healthz, webhooks).
	Addr string

	t testing.TB
	r Rolloutd
}

var (
	buildOnce sync.Once
	buildErr  error
	builtBin  string
)

// daemonBinary builds ./cmd/rolloutd once per test binary, into a file of its
// own: two test processes sharing a sandbox (two checkouts, old and new code)
// must each run the daemon they built, not whichever was built last.
func (e *Env) daemonBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		removeGoneBuilds(e.BinDir)
		builtBin = filepath.Join(e.BinDir, fmt.Sprintf("rolloutd-e2e-%d", os.Getpid()))
		// faultinject: a Deployment annotated e2e.rolloutd.io/panic=true makes its
		// reconcile panic (internal/controller/faultinject.go); nothing else changes.
		buildErr = BuildRolloutd(context.Background(), e.RepoRoot, builtBin, "faultinject")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// removeGoneBuilds deletes the daemons built by test processes that have
// ended (rolloutd-e2e-<pid> of a pid no longer running).
func removeGoneBuilds(dir string) {
	builds, _ := filepath.Glob(filepath.Join(dir, "rolloutd-e2e-*"))
	for _, b := range builds {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(b), "rolloutd-e2e-%d", &pid); err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.Remove(b)
		}
	}
}

// StartDaemon builds and starts rolloutd on a free loopback port, registers it
// as a Prometheus scrape target and waits for /healthz. The daemon is stopped
// and unregistered at cleanup; if the test failed, its log tail is written to
// the test log.
func (e *Env) StartDaemon(t testing.TB, opts DaemonOptions) *Daemon {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("start rolloutd: %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	d := &Daemon{Addr: addr, t: t, r: Rolloutd{
		Addr: addr, Bin: e.daemonBinary(t), Args: opts.Args,
		Log:       filepath.Join(e.layout.LogDir(), fmt.Sprintf("rolloutd-%s-%d.log", namespaceName(t.Name()), port)),
		Env:       daemonEnv(e, addr, opts),
		ReadyPath: "/healthz", ReadyTimeout: 30 * time.Second, ProbeTimeout: time.Second,
	}}
	target := e.registerTarget(t, d.Addr)
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			t.Logf("==== rolloutd %s log (%s), last lines:\n%s", d.Addr, d.r.Log, d.LogTail(60))
		}
		_ = os.Remove(target)
	})
	d.start()
	return d
}

func daemonEnv(e *Env, addr string, opts DaemonOptions) []string {
	vars := RolloutdVars(addr, e.PromURL, opts.Namespaces)
	vars["KUBECONFIG"] = e.Kubeconfig
	vars["ROLLOUTD_LOG_LEVEL"] = "debug"
	maps.Copy(vars, opts.Env)
	return RolloutdEnv(vars, false)
}

// URL is the daemon's base URL.
func (d *Daemon) URL() string { return d.r.URL() }

// start launches the process and waits for /healthz.
func (d *Daemon) start() {
	d.t.Helper()
	if err := d.r.Start(d.t.Context(), d.t.Name()); err != nil {
		d.t.Fatalf("rolloutd on %s did not become healthy: %v\n%s", d.Addr, err, d.LogTail(40))
	}
}

// Kill sends SIGKILL, as a crash would, and waits for the process to exit.
func (d *Daemon) Kill() { d.r.Signal(syscall.SIGKILL, 10*time.Second) }

// Stop sends SIGTERM and waits for a clean exit, killing the process if it
// takes longer than 30 s (which fails the test).
func (d *Daemon) Stop() {
	if !d.r.Signal(syscall.SIGTERM, 30*time.Second) {
		d.t.Errorf("rolloutd on %s ignored SIGTERM for 30s; killed it", d.Addr)
		d.Kill()
	}
}

// Restart stops the daemon if it runs and starts it again on the same port
// with the same settings, waiting for /healthz.
func (d *Daemon) Restart() {
	d.t.Helper()
	d.Stop()
	d.start()
}

// Running reports whether the process is alive.
func (d *Daemon) Running() bool { return d.r.Running() }

// LogTail returns the last n lines of the daemon's log (all its runs).
func (d *Daemon) LogTail(n int) string { return d.r.LogTail(n) }

// PID is the daemon's current process id (a restart or a crash and restart
// changes it).
func (d *Daemon) PID() int { return d.r.PID() }

// Metrics returns the daemon's /metrics text.
func (d *Daemon) Metrics(ctx context.Context) (string, error) { return d.r.Metrics(ctx) }

// LogPath is the daemon's log file.
func (d *Daemon) LogPath() string { return d.r.Log }

// WatchedNamespace is Namespace with a daemon of the default settings that
// watches only it: the start of most scenarios. The daemon stops before the
// namespace is deleted.
func (e *Env) WatchedNamespace(t testing.TB) string {
	t.Helper()
	ns := e.Namespace(t)
	e.StartDaemon(t, DaemonOptions{Namespaces: []string{ns}})
	return ns
}
