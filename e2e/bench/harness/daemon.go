package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
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
	cmd *exec.Cmd
	// Addr serves /metrics, /readyz and the webhook.
	Addr string
	// Log is the path of its console log.
	Log  string
	logf *os.File
}

// StartDaemon starts rolloutd and waits until it answers /readyz.
func StartDaemon(ctx context.Context, o DaemonOptions) (*Daemon, error) {
	bin, err := daemonBinary(ctx, o.Bin)
	if err != nil {
		return nil, err
	}
	if o.Addr == "" {
		if o.Addr, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	if o.PrometheusURL == "" {
		if o.PrometheusURL, err = SandboxPrometheus(); err != nil {
			return nil, err
		}
	}
	if o.LogName == "" {
		o.LogName = "rolloutd-" + o.Namespace + ".log"
	}
	d := &Daemon{Addr: o.Addr, Log: filepath.Join(o.LogDir, o.LogName)}
	if d.logf, err = os.Create(d.Log); err != nil {
		return nil, err
	}
	d.cmd = exec.Command(bin, "--kubeconfig", o.Kubeconfig)
	d.cmd.Env = append(os.Environ(), "ROLLOUTD_NAMESPACES="+o.Namespace, "ROLLOUTD_HTTP_ADDR="+o.Addr,
		"ROLLOUTD_PROMETHEUS_URL="+o.PrometheusURL, "ROLLOUTD_LEADER_ELECT=false", "ROLLOUTD_LOG_FORMAT=console")
	if o.TokenFile != "" {
		d.cmd.Env = append(d.cmd.Env, "ROLLOUTD_WEBHOOK_TOKEN_FILE="+o.TokenFile)
	}
	d.cmd.Env = append(d.cmd.Env, o.Env...)
	d.cmd.Stdout, d.cmd.Stderr = d.logf, d.logf
	if err := d.cmd.Start(); err != nil {
		_ = d.logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		resp, err := http.Get("http://" + d.Addr + "/readyz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		d.Stop()
		return nil, fmt.Errorf("daemon not ready (log %s): %w", d.Log, err)
	}
	return d, nil
}

func daemonBinary(ctx context.Context, bin string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	bin = filepath.Join(os.TempDir(), "rolloutd-bench")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/rolloutd").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build rolloutd: %w\n%s", err, out)
	}
	return bin, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Stop interrupts the daemon and waits for it to exit.
func (d *Daemon) Stop() {
	_ = d.cmd.Process.Signal(os.Interrupt)
	_ = d.cmd.Wait()
	_ = d.logf.Close()
}

// Metrics returns the daemon's /metrics text.
func (d *Daemon) Metrics(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.Addr+"/metrics", nil)
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

// BuildDaemon builds ./cmd/rolloutd (run from the repository root) into a
// temporary file and returns its path.
func BuildDaemon(ctx context.Context) (string, error) { return daemonBinary(ctx, "") }
