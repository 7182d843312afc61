package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
)

// viaWebhook posts one firing alert per rollout, one at a time, and measures from
// the request to the canary Ingress being deleted.
func (e *env) viaWebhook(ctx context.Context, names []string) []time.Duration {
	var out []time.Duration
	for i, name := range names {
		t0 := time.Now()
		body, err := harness.AlertPayload([]harness.Alert{{Namespace: e.ns, App: name, Fingerprint: fmt.Sprintf("f%04d", i)}}, t0)
		if err == nil {
			err = harness.PostAlerts(ctx, daemonAddr, e.token, body)
		}
		if err != nil {
			fmt.Printf("  %s: webhook failed: %v\n", name, err)
			continue
		}
		d, ok := e.traffic.WaitZero(ctx, name, t0, time.Minute)
		if !ok {
			fmt.Printf("  %s: canary traffic not removed within a minute\n", name)
			continue
		}
		out = append(out, d)
	}
	return out
}

// viaAlertmanager writes a firing rule per rollout and measures from the alert's
// activeAt in Prometheus to the canary Ingress being deleted.
func (e *env) viaAlertmanager(ctx context.Context, names []string) ([]time.Duration, error) {
	client, err := api.NewClient(api.Config{Address: e.prom})
	if err != nil {
		return nil, err
	}
	prom := promv1.NewAPI(client)
	rules := filepath.Join(e.o.root, ".sandbox", "prometheus", "rules")
	var out []time.Duration
	for _, name := range names {
		alert := "BenchBurning" + name
		file := filepath.Join(rules, e.ns+"-"+name+".yml")
		rule := fmt.Sprintf("groups:\n- name: %s\n  interval: 1s\n  rules:\n  - alert: %s\n    expr: vector(1)\n    labels: {namespace: %s, deployment: %s}\n",
			alert, alert, e.ns, name)
		if err := os.WriteFile(file, []byte(rule), 0o644); err != nil {
			return nil, err
		}
		if err := reload(ctx, e.prom); err != nil {
			return nil, err
		}
		active, ok := activeAt(ctx, prom, alert)
		gone, gok := time.Time{}, false
		_ = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			if !ok {
				active, ok = activeAt(ctx, prom, alert)
			}
			gone, gok = e.traffic.ZeroAt(name)
			return gok && ok, nil
		})
		_ = os.Remove(file)
		_ = reload(ctx, e.prom)
		if !gok || !ok {
			fmt.Printf("  %s: no rollback through Alertmanager within a minute\n", name)
			continue
		}
		out = append(out, gone.Sub(active))
	}
	return out, nil
}

func reload(ctx context.Context, prom string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, prom+"/-/reload", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reload prometheus: %w", err)
	}
	resp.Body.Close()
	return nil
}

func activeAt(ctx context.Context, prom promv1.API, alert string) (time.Time, bool) {
	res, err := prom.Alerts(ctx)
	if err != nil {
		return time.Time{}, false
	}
	for _, a := range res.Alerts {
		if string(a.Labels["alertname"]) == alert && a.State == promv1.AlertStateFiring {
			return a.ActiveAt, true
		}
	}
	return time.Time{}, false
}
