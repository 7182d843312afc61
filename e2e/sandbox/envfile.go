package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// Keys of the env file (.sandbox/env) that Up writes and the e2e framework
// reads.
const (
	EnvKubeconfig        = "KUBECONFIG"
	EnvAPIServer         = "KUBE_APISERVER"
	EnvPrometheusURL     = "PROMETHEUS_URL"
	EnvAlertmanagerURL   = "ALERTMANAGER_URL"
	EnvAlertmanagerToken = "ALERTMANAGER_TOKEN_FILE"
	EnvWebhookURL        = "ALERTMANAGER_WEBHOOK_URL"
	EnvSimulatorURL      = "SIMULATOR_URL"
	EnvSimulatorSeed     = "SIMULATOR_SEED"
	EnvBinDir            = "SANDBOX_BIN"
	EnvSandboxDir        = "SANDBOX_DIR"
	EnvCacheDir          = "SANDBOX_TOOLS"
	EnvServiceCIDR       = "SERVICE_CIDR"
)

// Env holds the KEY=VALUE facts of a running sandbox.
type Env map[string]string

// WriteEnvFile writes env as sorted KEY=VALUE lines.
func WriteEnvFile(path string, env Env) error {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Written by `make sandbox`; removed by `make sandbox-down`.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, env[k])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ErrNotRunning means the sandbox has not been started (no env file).
var ErrNotRunning = errors.New("the sandbox is not running: start it with `make sandbox`")

// ReadEnvFile reads the env file; a missing file gives ErrNotRunning.
func ReadEnvFile(path string) (Env, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotRunning
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	env := Env{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("read %s: bad line %q", path, line)
		}
		env[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return env, nil
}
