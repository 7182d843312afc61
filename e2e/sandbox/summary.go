package sandbox

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
)

// facts are the KEY=VALUE lines of the env file.
func facts(l Layout, t Tools, seed int64, simOn bool) Env {
	env := Env{
		EnvKubeconfig:        l.Kubeconfig(),
		EnvAPIServer:         l.APIServerURL(),
		EnvPrometheusURL:     "http://" + l.PrometheusAddr(),
		EnvAlertmanagerURL:   "http://" + l.AlertmanagerAddr(),
		EnvAlertmanagerToken: l.AlertmanagerTokenFile(),
		EnvWebhookURL:        DefaultWebhookURL,
		EnvBinDir:            l.BinDir(),
		EnvSandboxDir:        l.Dir,
		EnvCacheDir:          t.CacheDir,
		EnvServiceCIDR:       serviceCIDR,
	}
	if simOn {
		env[EnvSimulatorURL] = "http://" + l.SimulatorAddr()
		env[EnvSimulatorSeed] = strconv.FormatInt(seed, 10)
	}
	return env
}

// printSummary says what runs where and how to use it.
func printSummary(out io.Writer, l Layout, env Env, simOn bool) {
	rel := func(p string) string {
		if r, err := filepath.Rel(l.RepoRoot, p); err == nil {
			return r
		}
		return p
	}
	fmt.Fprintln(out, "rolloutd sandbox is running:")
	fmt.Fprintf(out, "  kubeconfig    %s\n", env[EnvKubeconfig])
	fmt.Fprintf(out, "  apiserver     %s  (%d kwok nodes, Services from %s, RBAC on)\n", env[EnvAPIServer], nodeCount, serviceCIDR)
	fmt.Fprintf(out, "  prometheus    %s  (config %s, rules %s/*.yml, daemon targets %s/*.json)\n",
		env[EnvPrometheusURL], rel(filepath.Join(l.PrometheusDir(), "prometheus.yml")), rel(l.PrometheusRulesDir()), rel(l.PrometheusTargetsDir()))
	fmt.Fprintf(out, "  alertmanager  %s  (webhook %s, bearer token in %s)\n", env[EnvAlertmanagerURL], env[EnvWebhookURL], rel(env[EnvAlertmanagerToken]))
	if simOn {
		fmt.Fprintf(out, "  simulator     %s/metrics  (seed %s)\n", env[EnvSimulatorURL], env[EnvSimulatorSeed])
	} else {
		fmt.Fprintln(out, "  simulator     not running (no source or it does not build yet)")
	}
	fmt.Fprintf(out, "  tools         %s  (kubectl, helm, kwokctl%s)\n", env[EnvBinDir], map[bool]string{true: ", rolloutd-sim"}[simOn])
	fmt.Fprintf(out, "  logs, pids    %s, %s\n", rel(l.LogDir()), rel(l.PidDir()))
	fmt.Fprintf(out, "  facts         %s\n", l.EnvFile())
	fmt.Fprintln(out, "use it with:")
	fmt.Fprintf(out, "  export PATH=%s:$PATH\n", env[EnvBinDir])
	fmt.Fprintf(out, "  export KUBECONFIG=%s\n", env[EnvKubeconfig])
	for _, h := range l.HelmDirs() {
		fmt.Fprintf(out, "  export %s\n", h)
	}
}
