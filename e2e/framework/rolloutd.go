package framework

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/rolloutd/rolloutd/e2e/sandbox"
)

// Rolloutd is a rolloutd child process serving HTTP on Addr with its output
// appended to Log. It is the one implementation of running the daemon behind
// both Daemon (the e2e tests) and e2e/bench/harness.Daemon (the benchmark
// programs); each adds its own stop policy and failure reporting. It can be
// started again after it exits, with the same settings.
type Rolloutd struct {
	Addr string   // host:port of its HTTP server (ROLLOUTD_HTTP_ADDR)
	Log  string   // path of its console log
	Bin  string   // the rolloutd binary (BuildRolloutd)
	Args []string // command-line arguments
	Env  []string // the process's whole environment (RolloutdEnv)
	// ReadyPath is polled with GET until it answers 200 (/healthz or /readyz),
	// for at most ReadyTimeout; ProbeTimeout, when set, bounds each probe. An
	// empty ReadyPath starts the process without waiting.
	ReadyPath    string
	ReadyTimeout time.Duration
	ProbeTimeout time.Duration

	proc Process
}

// Start launches the process, after a line naming label in the log, and waits
// until ReadyPath answers. A process that does not become ready is left
// running: the caller decides how to stop it.
func (r *Rolloutd) Start(ctx context.Context, label string) error {
	r.proc.Name = "rolloutd"
	cmd := exec.Command(r.Bin, r.Args...)
	cmd.Env = r.Env
	if err := r.proc.Start(cmd, r.Log, label); err != nil {
		return err
	}
	if r.ReadyPath == "" {
		return nil
	}
	return r.proc.WaitReady(ctx, r.ReadyTimeout, r.ready)
}

func (r *Rolloutd) ready() (bool, error) {
	ctx := context.Background()
	if r.ProbeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.ProbeTimeout)
		defer cancel()
	}
	if err := sandbox.GetOK(ctx, r.URL()+r.ReadyPath); err != nil {
		return false, err
	}
	return true, nil
}

// URL is the daemon's base URL.
func (r *Rolloutd) URL() string { return "http://" + r.Addr }

// Metrics returns the daemon's /metrics text.
func (r *Rolloutd) Metrics(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL()+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("scrape rolloutd: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// Signal sends sig and waits up to timeout for the exit; it reports whether
// the process is gone (true if it was never started).
func (r *Rolloutd) Signal(sig syscall.Signal, timeout time.Duration) bool {
	return r.proc.Signal(sig, timeout)
}

// Running reports whether the process is alive.
func (r *Rolloutd) Running() bool { return r.proc.Running() }

// PID is the process id of the last start, 0 before the first.
func (r *Rolloutd) PID() int { return r.proc.PID() }

// LogTail returns the last n lines of the log (all its runs).
func (r *Rolloutd) LogTail(n int) string { return sandbox.TailFile(r.Log, n) }

// RolloutdVars are the settings every rolloutd child gets: its HTTP address,
// the namespaces it watches (empty = all), its Prometheus, no leader election
// (one daemon per test or benchmark) and a console log.
func RolloutdVars(addr, promURL string, namespaces []string) map[string]string {
	return map[string]string{
		"ROLLOUTD_HTTP_ADDR":      addr,
		"ROLLOUTD_NAMESPACES":     strings.Join(namespaces, ","),
		"ROLLOUTD_PROMETHEUS_URL": promURL,
		"ROLLOUTD_LEADER_ELECT":   "false",
		"ROLLOUTD_LOG_FORMAT":     "console",
	}
}

// RolloutdEnv is this process's environment with vars set on top: what a
// rolloutd child runs with. Unless inherit, this process's own ROLLOUTD_* and
// KUBECONFIG variables are dropped first, so that a test's settings do not
// leak into the daemon; a benchmark inherits them, so that its caller can tune
// the daemon from the shell.
func RolloutdEnv(vars map[string]string, inherit bool) []string {
	var env []string
	for _, kv := range os.Environ() {
		if inherit || (!strings.HasPrefix(kv, "ROLLOUTD_") && !strings.HasPrefix(kv, "KUBECONFIG=")) {
			env = append(env, kv)
		}
	}
	// exec.Cmd keeps the last value of a key, so vars win over what is inherited.
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// BuildRolloutd builds ./cmd/rolloutd of the module in dir ("" = the working
// directory) with the given build tags into out.
func BuildRolloutd(ctx context.Context, dir, out string, tags ...string) error {
	args := []string{"build"}
	what := "go build"
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
		what += " -tags " + strings.Join(tags, ",")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "-o", out, "./cmd/rolloutd")...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s ./cmd/rolloutd: %w\n%s", what, err, b)
	}
	return nil
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
