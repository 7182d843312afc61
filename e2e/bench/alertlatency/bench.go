package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
)

// daemonAddr is Alertmanager's default webhook target in the sandbox.
const daemonAddr = "127.0.0.1:18080"

type env struct {
	o       options
	ns      string
	token   string
	prom    string // the sandbox's Prometheus URL
	traffic *harness.TrafficWatch
}

func bench(ctx context.Context, o options) error {
	kubeconfig := filepath.Join(o.root, ".sandbox", "kubeconfig")
	_, kube, err := harness.Connect(kubeconfig, 200, 400)
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(o.root, ".sandbox", "alertmanager", "token")
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return fmt.Errorf("read the sandbox's webhook token: %w", err)
	}
	prom, err := harness.SandboxPrometheus()
	if err != nil {
		return err
	}
	e := &env{o: o, ns: "bench-alerts-" + rand.String(5), token: strings.TrimSpace(string(tok)), prom: prom}
	drop, err := harness.Namespace(ctx, kube, e.ns)
	if err != nil {
		return err
	}
	defer drop(time.Minute)
	d, err := harness.StartDaemon(ctx, harness.DaemonOptions{Kubeconfig: kubeconfig, Namespace: e.ns, Addr: daemonAddr,
		TokenFile: tokenFile, LogDir: filepath.Join(o.root, ".sandbox", "logs"),
		Env: []string{"ROLLOUTD_KUBE_QPS=200", "ROLLOUTD_KUBE_BURST=400"}})
	if err != nil {
		return err
	}
	defer d.Stop()
	if e.traffic, err = harness.WatchTraffic(ctx, kube, e.ns); err != nil {
		return err
	}
	names := harness.Names(o.rollouts + o.viaAM)
	fmt.Printf("namespace %s: %d rollouts (router nginx, canary at 50%%)\n", e.ns, len(names))
	apps := harness.Apps{Kube: kube, Namespace: e.ns, RPS: 5,
		Annotations: map[string]string{"rolloutd.io/steps": "50", "rolloutd.io/interval": "30m"}}
	if err := startRollouts(ctx, apps, names); err != nil {
		return err
	}
	direct := e.viaWebhook(ctx, names[:o.rollouts])
	am, err := e.viaAlertmanager(ctx, names[o.rollouts:])
	if err != nil {
		return err
	}
	fmt.Println()
	fmt.Println("| path to canary traffic 0 (canary Ingress deleted) | n | p50 | p99 | max |")
	fmt.Println("|---|---|---|---|---|")
	fmt.Println(harness.Summarise(direct).Row("webhook request arrives"))
	s := harness.Summarise(am)
	fmt.Println(s.Row("alert active in Prometheus (via Alertmanager)"))
	if s.N > 0 {
		fmt.Printf("\nFlagger's worst case with its defaults: %.0f s; rolloutd's worst via Alertmanager: %.2f s (%.0fx faster)\n",
			o.flaggerSec, s.Max.Seconds(), o.flaggerSec/s.Max.Seconds())
	}
	return nil
}

// startRollouts creates the apps, releases a new template on each once rolloutd
// took it over, and waits until every canary holds 50% of the traffic.
func startRollouts(ctx context.Context, apps harness.Apps, names []string) error {
	if err := apps.Create(ctx, names); err != nil {
		return err
	}
	if err := apps.Wait(ctx, names, "taken over", 5*time.Minute, harness.TakenOver); err != nil {
		return err
	}
	if err := apps.Release(ctx, names, "example.com/app:v2", nil); err != nil {
		return err
	}
	return apps.Wait(ctx, names, "canaries at 50%", 5*time.Minute, harness.AtWeight(50))
}
