package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/rolloutd/rolloutd/e2e/sandbox"
)

// chartNamespace is where the demo installs the chart.
const chartNamespace = "rolloutd-system"

// installChart installs (or upgrades) charts/rolloutd in namespaced mode watching
// the demo namespace, the way a platform team would, and writes a kubeconfig for
// the chart's ServiceAccount: the demo's daemon runs with exactly the chart's
// rights. (Its pods in the sandbox are kwok's stand-ins, so the daemon itself runs
// as a local process.)
func installChart(ctx context.Context, o options, kube kubernetes.Interface, admin *rest.Config) (string, error) {
	helmHome := filepath.Join(o.root, ".sandbox", "helm")
	cmd := exec.CommandContext(ctx, filepath.Join(o.root, ".sandbox", "bin", "helm"),
		"upgrade", "--install", "rolloutd", filepath.Join(o.root, "charts", "rolloutd"),
		"--namespace", chartNamespace, "--create-namespace",
		"--set", "watchNamespaces={"+o.namespace+"}", "--set", "replicaCount=1",
		"--set", "prometheus.url="+o.promURL, "--set", fmt.Sprintf("rbac.gateway=%t", o.router == "gateway"),
		"--wait", "--timeout", "2m")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(o.root, ".sandbox", "kubeconfig"),
		"HELM_CACHE_HOME="+filepath.Join(helmHome, "cache"), "HELM_CONFIG_HOME="+filepath.Join(helmHome, "config"),
		"HELM_DATA_HOME="+filepath.Join(helmHome, "data"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("helm install: %w\n%s", err, out)
	}
	path := filepath.Join(o.root, ".sandbox", "rolloutd-demo.kubeconfig")
	if err := sandbox.WriteServiceAccountKubeconfig(ctx, kube, admin, chartNamespace, "rolloutd", path, 24*time.Hour); err != nil {
		return "", err
	}
	return path, nil
}
