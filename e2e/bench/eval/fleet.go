package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/e2e/bench/capacity"
	"github.com/rolloutd/rolloutd/e2e/bench/harness"
	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// fleet is the sampler mode's workload: apps (a stable Deployment of one pod
// and its canary of one pod, each behind an Ingress, the canary's at 20%) in
// namespaces of perNamespace apps, on temporary kwok nodes. Every app is one
// rollout to the sampler, with its own series, as a real fleet has: Prometheus
// matches perNamespace apps per namespace of the grouped queries' regex.
type fleet struct {
	kube         kubernetes.Interface
	prefix       string
	perNamespace int
	rps          int
	pool         *capacity.Pool
	apps         int // created so far
}

func newFleet(ctx context.Context, kube kubernetes.Interface, maxApps, perNamespace, rps int) (*fleet, error) {
	f := &fleet{kube: kube, prefix: fmt.Sprintf("samplerbench-%06d", rand.IntN(1_000_000)), perNamespace: perNamespace, rps: rps}
	var err error
	f.pool, err = capacity.Add(ctx, kube, 2*maxApps)
	return f, err
}

func (f *fleet) namespace(i int) string { return fmt.Sprintf("%s-%03d", f.prefix, i/f.perNamespace) }
func (f *fleet) appName(i int) string   { return fmt.Sprintf("app%04d", i) }
func (f *fleet) namespaces(n int) int   { return (n + f.perNamespace - 1) / f.perNamespace }

// grow creates apps until the fleet has n.
func (f *fleet) grow(ctx context.Context, n int) error {
	from := f.apps
	for i := from; i < n; i++ {
		if i%f.perNamespace == 0 {
			if err := framework.CreateNamespace(ctx, f.kube, f.namespace(i), nil); err != nil {
				return err
			}
		}
	}
	err := harness.Parallel(n-from, func(k int) error {
		i := from + k
		return createApp(ctx, f.kube, f.namespace(i), app(f.appName(i), 1, f.rps, f.pool.Place))
	})
	f.apps = max(f.apps, n)
	return err
}

// targets are the rollouts of the first n apps.
func (f *fleet) targets(n int) []analysis.Target {
	out := make([]analysis.Target, n)
	for i := range out {
		name := f.appName(i)
		out[i] = analysis.Target{Namespace: f.namespace(i), Deployment: name, Canary: contract.CanaryName(name),
			Service: name, Ingress: name, Source: contract.SourceNginx, Window: time.Second}
	}
	return out
}

// waitForSeries waits until Prometheus has canary requests and canary CPU of
// every one of the first n apps.
func (f *fleet) waitForSeries(ctx context.Context, prom promv1.API, n int) error {
	sel := fmt.Sprintf(`namespace=~"%s-.*"`, f.prefix)
	queries := []string{
		fmt.Sprintf(`count(count by (namespace, ingress) (nginx_ingress_controller_requests{%s,canary!=""}))`, sel),
		fmt.Sprintf(`count(count by (namespace, pod) (container_cpu_usage_seconds_total{%s,pod=~".*-canary-.*"}))`, sel),
	}
	deadline := time.Now().Add(5 * time.Minute)
	for _, q := range queries {
		for {
			v, _, err := prom.Query(ctx, q, time.Now())
			if vec, ok := v.(model.Vector); err == nil && ok && len(vec) == 1 && int(vec[0].Value) >= n {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("fewer than %d apps' series after 5 minutes (%s): is the sandbox up?", n, q)
			}
			if err := sleep(ctx, time.Second); err != nil {
				return err
			}
		}
	}
	return nil
}

// cleanup deletes the namespaces and the nodes, even after an interrupt.
func (f *fleet) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := 0; i < f.apps; i += f.perNamespace {
		if err := framework.DeleteNamespace(ctx, f.kube, f.namespace(i)); err != nil {
			fmt.Fprintf(os.Stderr, "evalbench: %v\n", err)
		}
	}
	if f.pool != nil {
		fmt.Fprintf(os.Stderr, "evalbench: removed %d nodes (%v)\n", len(f.pool.Nodes), f.pool.Remove(ctx))
	}
}

// promCPU is Prometheus' own process_cpu_seconds_total, read from its /metrics
// (the sandbox's Prometheus does not scrape itself).
func promCPU(ctx context.Context, promURL string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(promURL, "/")+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("prometheus metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("prometheus metrics: no process_cpu_seconds_total (%v)", sc.Err())
}

// promCPUPerMinute is Prometheus' CPU seconds per minute over span.
func promCPUPerMinute(ctx context.Context, promURL string, span time.Duration) (float64, error) {
	c0, err := promCPU(ctx, promURL)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := sleep(ctx, span); err != nil {
		return 0, err
	}
	c1, err := promCPU(ctx, promURL)
	return (c1 - c0) / time.Since(start).Minutes(), err
}
