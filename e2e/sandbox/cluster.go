package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

const (
	// serviceCIDR leaves room for tens of thousands of Services (scale tests).
	serviceCIDR = "10.96.0.0/16"
	// nodeCount is how many kwok fake nodes the cluster gets.
	nodeCount = 3
)

// kwokctlConfig renders the KwokctlConfiguration: binary runtime with every
// binary given by absolute path (nothing is downloaded), loopback only, RBAC
// and admission on.
func kwokctlConfig(l Layout, t Tools) ([]byte, error) {
	type arg struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	cfg := map[string]any{
		"apiVersion": "config.kwok.x-k8s.io/v1alpha1",
		"kind":       "KwokctlConfiguration",
		"options": map[string]any{
			"runtime":                     "binary",
			"bindAddress":                 "127.0.0.1",
			"kubeApiserverPort":           l.Ports.APIServer,
			"etcdPort":                    l.Ports.Etcd,
			"etcdPeerPort":                l.Ports.EtcdPeer,
			"kubeControllerManagerPort":   l.Ports.ControllerManager,
			"kubeSchedulerPort":           l.Ports.Scheduler,
			"kwokControllerPort":          l.Ports.Kwok,
			"kubeAuthorization":           true,
			"kubeAdmission":               true,
			"disableQPSLimits":            true,
			"cacheDir":                    filepath.Join(l.KwokWorkdir(), "cache"),
			"etcdBinary":                  t.Bin("etcd"),
			"kubeApiserverBinary":         t.Bin("kube-apiserver"),
			"kubeControllerManagerBinary": t.Bin("kube-controller-manager"),
			"kubeSchedulerBinary":         t.Bin("kube-scheduler"),
			"kwokControllerBinary":        t.Bin("kwok"),
			"kubectlBinary":               t.Bin("kubectl"),
		},
		"componentsPatches": []map[string]any{{
			"name": "kube-apiserver",
			"extraArgs": []arg{
				{Key: "service-cluster-ip-range", Value: serviceCIDR},
				// On loopback the endpoint reconciler only logs errors.
				{Key: "endpoint-reconciler-type", Value: "none"},
			},
		}, {
			// One instance each, so no leader election: with it, a lease
			// renewal that an API server busy with a test run answers too late
			// makes the component exit, and the sandbox stops creating pods.
			"name":      "kube-controller-manager",
			"extraArgs": []arg{{Key: "leader-elect", Value: "false"}},
		}, {
			"name":      "kube-scheduler",
			"extraArgs": []arg{{Key: "leader-elect", Value: "false"}},
		}},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("render kwokctl configuration: %w", err)
	}
	return b, nil
}

// kwokctl runs one kwokctl command with the sandbox's environment, appending
// its output to the kwokctl log.
func kwokctl(ctx context.Context, l Layout, t Tools, args ...string) error {
	logPath := filepath.Join(l.LogDir(), "kwokctl.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open kwokctl log: %w", err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n==== %s kwokctl %s\n", time.Now().Format(time.RFC3339), strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, t.Bin("kwokctl"), args...)
	cmd.Env = append(os.Environ(),
		"KWOK_WORKDIR="+l.KwokWorkdir(),
		"KWOK_KUBECTL_BINARY="+t.Bin("kubectl"),
		"PATH="+filepath.Join(t.CacheDir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kwokctl %s: %w", args[0]+" "+args[1], err)
	}
	return nil
}

// clusterDir is kwokctl's folder for our cluster (PKI, logs, PID files).
func clusterDir(l Layout) string { return filepath.Join(l.KwokWorkdir(), "clusters", ClusterName) }

// createCluster starts the control plane and the fake nodes.
func createCluster(ctx context.Context, l Layout, t Tools) error {
	for _, p := range l.clusterPorts() {
		if err := checkPortFree(loopback(p.port), p.what); err != nil {
			return err
		}
	}
	cfg, err := kwokctlConfig(l, t)
	if err != nil {
		return err
	}
	cfgPath := l.Path("kwokctl.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return fmt.Errorf("write kwokctl configuration: %w", err)
	}
	if err := kwokctl(ctx, l, t, "create", "cluster", "--name", ClusterName,
		"--config", cfgPath, "--kubeconfig", l.Kubeconfig(), "--runtime", "binary"); err != nil {
		return withLogTails(err, clusterLogs(l)...)
	}
	if err := copyClusterPids(l); err != nil {
		return err
	}
	if err := kwokctl(ctx, l, t, "scale", "node", "--name", ClusterName, "--replicas", fmt.Sprint(nodeCount)); err != nil {
		return withLogTails(err, clusterLogs(l)...)
	}
	return nil
}

// deleteCluster stops the control plane and removes kwokctl's cluster folder.
// A cluster that does not exist is not an error.
func deleteCluster(ctx context.Context, l Layout, t Tools) error {
	if _, err := os.Stat(clusterDir(l)); os.IsNotExist(err) {
		return nil
	}
	return kwokctl(ctx, l, t, "delete", "cluster", "--name", ClusterName, "--kubeconfig", l.Kubeconfig())
}

// copyClusterPids records kwokctl's component processes in our PID folder, so
// that every sandbox process is listed in one place.
func copyClusterPids(l Layout) error {
	files, _ := filepath.Glob(filepath.Join(clusterDir(l), "pids", "*.pid"))
	pf := pidFiles{dir: l.PidDir()}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("read kwokctl pid file: %w", err)
		}
		rec, err := parsePidFile(string(b))
		if err != nil {
			return fmt.Errorf("read kwokctl pid file %s: %w", f, err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".pid")
		if err := pf.write(name, rec.PID); err != nil {
			return err
		}
	}
	return nil
}

// clusterLogs lists kwokctl's log and its components' logs.
func clusterLogs(l Layout) []string {
	logs := []string{filepath.Join(l.LogDir(), "kwokctl.log")}
	more, _ := filepath.Glob(filepath.Join(clusterDir(l), "logs", "*.log"))
	return append(logs, more...)
}
