// Command demo is `make demo`: on the running sandbox it starts rolloutd, deploys a
// demo application with simulated traffic, releases a healthy version (promoted)
// and a version with 10% errors (rolled back), shows the progress of each release as
// it happens and ends with a summary. It leaves the sandbox running.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rolloutd/rolloutd/e2e/sandbox"
)

func main() { os.Exit(run()) }

type options struct {
	root      string
	namespace string
	addr      string
	interval  string
	timeout   time.Duration
	router    string // nginx or gateway
	admin     *rest.Config
	promURL   string // the sandbox's Prometheus (its port moves with ROLLOUTD_SANDBOX_PORT_OFFSET)
}

func run() int {
	var o options
	flag.StringVar(&o.namespace, "namespace", "rolloutd-demo", "namespace of the demo application (recreated)")
	flag.StringVar(&o.addr, "http-addr", "127.0.0.1:18080", "address of the daemon's HTTP endpoint")
	flag.StringVar(&o.interval, "interval", "5s", "rolloutd.io/interval of the demo application")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long each release may take")
	flag.StringVar(&o.router, "router", "nginx", "router of the demo application: nginx (an Ingress) or gateway (a Gateway API HTTPRoute)")
	flag.Parse()
	if o.router != "nginx" && o.router != "gateway" {
		fmt.Fprintf(os.Stderr, "demo: -router=%q: accepted: nginx, gateway\n", o.router)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 2
	}
	o.root = root
	if err := demo(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	return 0
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run from inside the rolloutd repository")
	}
	return filepath.Dir(mod), nil
}

func demo(ctx context.Context, o options) error {
	kubeconfig := filepath.Join(o.root, ".sandbox", "kubeconfig")
	if _, err := os.Stat(kubeconfig); err != nil {
		return fmt.Errorf("no sandbox at %s: run `make sandbox` first", kubeconfig)
	}
	env, err := sandbox.ReadEnvFile(filepath.Join(o.root, ".sandbox", "env"))
	if err != nil {
		return err
	}
	if o.promURL = env[sandbox.EnvPrometheusURL]; o.promURL == "" {
		return fmt.Errorf("no %s in .sandbox/env: run `make sandbox` again", sandbox.EnvPrometheusURL)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("load %s: %w", kubeconfig, err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	o.admin = cfg
	say("1/5", "preparing namespace %s", o.namespace)
	if err := resetNamespace(ctx, kube, o.namespace); err != nil {
		return err
	}
	say("2/5", "installing the chart in %s (helm install rolloutd charts/rolloutd) and starting rolloutd with its ServiceAccount (log: .sandbox/logs/rolloutd-demo.log)", chartNamespace)
	saConfig, err := installChart(ctx, o, kube, cfg)
	if err != nil {
		return err
	}
	daemon, err := startDaemon(o, saConfig)
	if err != nil {
		return err
	}
	defer daemon.stop()
	say("3/5", "deploying the demo app: Deployment web (4 replicas, router %s), Service and %s with 200 simulated requests/s",
		o.router, map[string]string{"nginx": "Ingress", "gateway": "Gateway edge (class sim) with HTTPRoute web"}[o.router])
	if err := createApp(ctx, kube, o); err != nil {
		return err
	}
	fmt.Printf("    watch it live from another shell: PATH=$PWD/bin:$PATH KUBECONFIG=$PWD/.sandbox/kubeconfig rolloutctl -n %s get %s -w\n", o.namespace, appName)
	var results []result
	say("4/5", "releasing web:v2, a healthy version: expect promotion")
	results = append(results, watchRelease(ctx, kube, o, "example.com/web:v2", nil))
	say("5/5", "releasing web:v3, which fails 10%% of requests: expect an automatic rollback")
	results = append(results, watchRelease(ctx, kube, o, "example.com/web:v3",
		map[string]string{"sim.rolloutd.io/error-rate": "0.1"}))
	return summary(results)
}

func say(step, format string, args ...any) {
	fmt.Printf("==> [%s] %s\n", step, fmt.Sprintf(format, args...))
}
