package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Names and addresses that do not depend on the checkout.
const (
	// DefaultWebhookURL is where Alertmanager sends notifications until a test
	// points it elsewhere: a daemon listening on port 18080.
	DefaultWebhookURL = "http://127.0.0.1:18080/webhooks/alertmanager"
	// ClusterName is the kwokctl cluster name.
	ClusterName = "rolloutd"
)

// Layout names every file and folder the sandbox uses for one checkout.
type Layout struct {
	RepoRoot string // folder holding go.mod
	Dir      string // RepoRoot/.sandbox
	Ports    Ports  // loopback ports of the components
}

// NewLayout returns the layout for the repository holding the working
// directory.
func NewLayout() (Layout, error) {
	root, err := FindRepoRoot()
	if err != nil {
		return Layout{}, err
	}
	ports, err := portsFromEnv()
	if err != nil {
		return Layout{}, err
	}
	return Layout{RepoRoot: root, Dir: filepath.Join(root, ".sandbox"), Ports: ports}, nil
}

// FindRepoRoot walks up from the working directory to the folder holding
// go.mod, falling back to `go env GOMOD`.
func FindRepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if dir == filepath.Dir(dir) {
			break
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", errors.New("find repository root: no go.mod above " + wd + ": run from inside the rolloutd checkout")
	}
	return filepath.Dir(gomod), nil
}

// Path joins elements onto the sandbox folder.
func (l Layout) Path(elem ...string) string {
	return filepath.Join(append([]string{l.Dir}, elem...)...)
}

// BinDir holds kubectl, helm, kwokctl and the simulator.
func (l Layout) BinDir() string { return l.Path("bin") }

// Kubeconfig is the admin kubeconfig of the cluster.
func (l Layout) Kubeconfig() string { return l.Path("kubeconfig") }

// LogDir holds one log file per process.
func (l Layout) LogDir() string { return l.Path("logs") }

// PidDir holds one PID file per process.
func (l Layout) PidDir() string { return l.Path("pids") }

// EnvFile holds the KEY=VALUE facts written by Up.
func (l Layout) EnvFile() string { return l.Path("env") }

// KwokWorkdir is kwokctl's KWOK_WORKDIR.
func (l Layout) KwokWorkdir() string { return l.Path("kwok") }

// PrometheusDir holds Prometheus' configuration and data.
func (l Layout) PrometheusDir() string { return l.Path("prometheus") }

// PrometheusDataDir is Prometheus' store: samples of this cluster's pods only,
// removed when the sandbox stops.
func (l Layout) PrometheusDataDir() string { return l.Path("prometheus", "data") }

// PrometheusTargetsDir holds one file_sd JSON file per daemon to scrape.
func (l Layout) PrometheusTargetsDir() string { return l.Path("prometheus", "targets") }

// PrometheusRulesDir holds rule files loaded by Prometheus.
func (l Layout) PrometheusRulesDir() string { return l.Path("prometheus", "rules") }

// AlertmanagerDir holds Alertmanager's configuration, token and data.
func (l Layout) AlertmanagerDir() string { return l.Path("alertmanager") }

// AlertmanagerConfig is Alertmanager's configuration file.
func (l Layout) AlertmanagerConfig() string { return l.Path("alertmanager", "alertmanager.yml") }

// AlertmanagerTokenFile holds the webhook bearer token Alertmanager sends.
func (l Layout) AlertmanagerTokenFile() string { return l.Path("alertmanager", "token") }

// HelmDirs returns the HELM_*_HOME environment that keeps helm's state here.
func (l Layout) HelmDirs() []string {
	return []string{
		"HELM_CACHE_HOME=" + l.Path("helm", "cache"),
		"HELM_CONFIG_HOME=" + l.Path("helm", "config"),
		"HELM_DATA_HOME=" + l.Path("helm", "data"),
	}
}

func (l Layout) mkdirs() error {
	for _, d := range []string{l.BinDir(), l.LogDir(), l.PidDir(), l.KwokWorkdir(),
		l.PrometheusTargetsDir(), l.PrometheusRulesDir(), l.Path("prometheus", "data"),
		l.Path("alertmanager", "data"), l.Path("helm", "cache"), l.Path("helm", "config"),
		l.Path("helm", "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	return nil
}
