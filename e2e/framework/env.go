package framework

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rolloutd/rolloutd/e2e/sandbox"
)

// Env is a connection to the running sandbox, shared by every test of a test
// binary.
type Env struct {
	Kube       kubernetes.Interface // admin client
	Dynamic    dynamic.Interface    // admin client for CRDs (Istio)
	RESTConfig *rest.Config         // admin configuration; copy before changing
	Prom       promv1.API           // Prometheus HTTP API

	RepoRoot        string // folder holding go.mod
	SandboxDir      string // RepoRoot/.sandbox
	Kubeconfig      string // admin kubeconfig file
	BinDir          string // kubectl, helm, rolloutd-sim, rolloutd
	PromURL         string // http://127.0.0.1:9090
	AlertmanagerURL string // http://127.0.0.1:9093
	SimulatorURL    string // http://127.0.0.1:9101, empty if the simulator is not running
	// WebhookTokenFile holds the bearer token Alertmanager sends by default.
	WebhookTokenFile string

	layout sandbox.Layout
}

var (
	connectOnce sync.Once
	shared      *Env
	connectErr  error
)

// Get returns the connection to the running sandbox, failing the test with
// what to do when it is not running.
func Get(t testing.TB) *Env {
	t.Helper()
	connectOnce.Do(func() { shared, connectErr = connect() })
	if connectErr != nil {
		t.Fatalf("e2e sandbox: %v", connectErr)
	}
	return shared
}

func connect() (*Env, error) {
	l, err := sandbox.NewLayout()
	if err != nil {
		return nil, err
	}
	facts, err := sandbox.ReadEnvFile(l.EnvFile())
	if err != nil {
		return nil, err
	}
	e := &Env{
		RepoRoot: l.RepoRoot, SandboxDir: l.Dir, layout: l,
		Kubeconfig:       facts[sandbox.EnvKubeconfig],
		BinDir:           facts[sandbox.EnvBinDir],
		PromURL:          facts[sandbox.EnvPrometheusURL],
		AlertmanagerURL:  facts[sandbox.EnvAlertmanagerURL],
		SimulatorURL:     facts[sandbox.EnvSimulatorURL],
		WebhookTokenFile: facts[sandbox.EnvAlertmanagerToken],
	}
	if err := e.connectKube(); err != nil {
		return nil, err
	}
	if err := e.connectProm(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Env) connectKube() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", e.Kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig %s: %w (run `make sandbox`)", e.Kubeconfig, err)
	}
	// Tests run in parallel against one API server: do not throttle them.
	cfg.QPS, cfg.Burst = 200, 400
	e.RESTConfig = cfg
	if e.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	if e.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	body, err := e.Kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil || string(body) != "ok" {
		return fmt.Errorf("the sandbox's API server at %s is not ready (%v %s): run `make sandbox`", cfg.Host, err, body)
	}
	return nil
}

func (e *Env) connectProm() error {
	if e.PromURL == "" {
		return errors.New("no Prometheus URL in the sandbox env file: run `make sandbox`")
	}
	c, err := api.NewClient(api.Config{Address: e.PromURL})
	if err != nil {
		return fmt.Errorf("prometheus client: %w", err)
	}
	e.Prom = promv1.NewAPI(c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.Prom.Buildinfo(ctx); err != nil {
		return fmt.Errorf("prometheus at %s does not answer (%w): run `make sandbox`", e.PromURL, err)
	}
	return nil
}
