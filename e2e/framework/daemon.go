package framework

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rolloutd/rolloutd/e2e/sandbox"
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

	t       testing.TB
	bin     string
	args    []string
	env     []string
	logPath string
	proc    Process
}

var (
	buildOnce sync.Once
	buildErr  error
)

// daemonBinary builds ./cmd/rolloutd once per test binary.
func (e *Env) daemonBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(e.BinDir, "rolloutd")
	buildOnce.Do(func() {
		// faultinject: a Deployment annotated e2e.rolloutd.io/panic=true makes its
		// reconcile panic (internal/controller/faultinject.go); nothing else changes.
		cmd := exec.Command("go", "build", "-tags", "faultinject", "-o", bin, "./cmd/rolloutd")
		cmd.Dir = e.RepoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build -tags faultinject ./cmd/rolloutd: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
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
	d := &Daemon{
		Addr: fmt.Sprintf("127.0.0.1:%d", port),
		t:    t,
		bin:  e.daemonBinary(t),
		args: opts.Args,
		proc: Process{Name: "rolloutd"},
	}
	d.logPath = filepath.Join(e.layout.LogDir(), fmt.Sprintf("rolloutd-%s-%d.log", namespaceName(t.Name()), port))
	d.env = daemonEnv(e, d.Addr, opts)
	target := e.registerTarget(t, d.Addr)
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			t.Logf("==== rolloutd %s log (%s), last lines:\n%s", d.Addr, d.logPath, d.LogTail(60))
		}
		_ = os.Remove(target)
	})
	d.start()
	return d
}

func daemonEnv(e *Env, addr string, opts DaemonOptions) []string {
	vars := map[string]string{
		"KUBECONFIG":              e.Kubeconfig,
		"ROLLOUTD_HTTP_ADDR":      addr,
		"ROLLOUTD_NAMESPACES":     strings.Join(opts.Namespaces, ","),
		"ROLLOUTD_PROMETHEUS_URL": e.PromURL,
		"ROLLOUTD_LEADER_ELECT":   "false",
		"ROLLOUTD_LOG_FORMAT":     "console",
		"ROLLOUTD_LOG_LEVEL":      "debug",
	}
	for k, v := range opts.Env {
		vars[k] = v
	}
	var env []string
	for _, kv := range os.Environ() {
		// The test's own ROLLOUTD_* settings must not leak into the daemon.
		if !strings.HasPrefix(kv, "ROLLOUTD_") && !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

func freePort() (int, error) {
	addr, err := FreeAddr()
	if err != nil {
		return 0, err
	}
	return addr.Port, nil
}

// FreeAddr is a loopback address with a port nobody listens on now.
func FreeAddr() (*net.TCPAddr, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr), nil
}

// URL is the daemon's base URL.
func (d *Daemon) URL() string { return "http://" + d.Addr }

// start launches the process and waits for /healthz.
func (d *Daemon) start() {
	d.t.Helper()
	cmd := exec.Command(d.bin, d.args...)
	cmd.Env = d.env
	if err := d.proc.Start(cmd, d.logPath, d.t.Name()); err != nil {
		d.t.Fatal(err)
	}
	if err := d.proc.WaitReady(d.t.Context(), 30*time.Second, d.healthy); err != nil {
		d.t.Fatalf("rolloutd on %s did not become healthy: %v\n%s", d.Addr, err, d.LogTail(40))
	}
}

func (d *Daemon) healthy() (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := sandbox.GetOK(ctx, d.URL()+"/healthz"); err != nil {
		return false, err
	}
	return true, nil
}

// Kill sends SIGKILL, as a crash would, and waits for the process to exit.
func (d *Daemon) Kill() { d.proc.Signal(syscall.SIGKILL, 10*time.Second) }

// Stop sends SIGTERM and waits for a clean exit, killing the process if it
// takes longer than 30 s (which fails the test).
func (d *Daemon) Stop() {
	if !d.proc.Signal(syscall.SIGTERM, 30*time.Second) {
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
func (d *Daemon) Running() bool { return d.proc.Running() }

// LogTail returns the last n lines of the daemon's log (all its runs).
func (d *Daemon) LogTail(n int) string { return sandbox.TailFile(d.logPath, n) }

// PID is the daemon's current process id (a restart or a crash and restart
// changes it).
func (d *Daemon) PID() int { return d.proc.PID() }

// LogPath is the daemon's log file.
func (d *Daemon) LogPath() string { return d.logPath }

// WatchedNamespace is Namespace with a daemon of the default settings that
// watches only it: the start of most scenarios. The daemon stops before the
// namespace is deleted.
func (e *Env) WatchedNamespace(t testing.TB) string {
	t.Helper()
	ns := e.Namespace(t)
	e.StartDaemon(t, DaemonOptions{Namespaces: []string{ns}})
	return ns
}
