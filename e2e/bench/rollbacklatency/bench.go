package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/bench/capacity"
	"github.com/rolloutd/rolloutd/e2e/bench/harness"
)

// level is one row pair of the tables: rollouts rolled back one at a time, or all
// at once.
type level struct {
	rollouts int
	burst    bool
}

func (l level) String() string {
	if l.burst {
		return fmt.Sprintf("%d at once", l.rollouts)
	}
	return fmt.Sprintf("1 (x%d in turn)", l.rollouts)
}

func bench(ctx context.Context, o options) (err error) {
	_, kube, err := harness.Connect(o.Kubeconfig, 200, 400)
	if err != nil {
		return err
	}
	if o.bin == "" {
		if o.bin, err = harness.BuildDaemon(ctx); err != nil {
			return err
		}
	}
	token, tokenFile, err := writeToken()
	if err != nil {
		return err
	}
	defer os.Remove(tokenFile)
	pods := 2*max(o.n, o.single) + max(o.n, o.single)/10
	pool, err := capacity.Add(ctx, kube, pods)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := pool.Remove(context.Background()); rerr != nil {
			err = errors.Join(err, rerr)
		}
		fmt.Printf("capacity: removed nodes %v\n", pool.Nodes)
	}()
	fmt.Printf("capacity: %d temporary kwok nodes of %d pods (%v), pool %s\n", len(pool.Nodes), capacity.PodsPerNode, pool.Nodes, pool.ID)
	var rows []result
	for _, l := range []level{{o.single, false}, {o.n, true}} {
		lctx, cancel := context.WithTimeout(ctx, o.timeout)
		r, err := measure(lctx, o, kube, pool, token, tokenFile, l)
		cancel()
		if err != nil {
			fmt.Printf("level %s: %v\n", l, err)
		}
		rows = append(rows, r)
		if ctx.Err() != nil {
			break
		}
	}
	report(os.Stdout, o, rows)
	return nil
}

func writeToken() (token, file string, err error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = hex.EncodeToString(b)
	file = filepath.Join(os.TempDir(), "rollbacklatency-token-"+token[:8])
	return token, file, os.WriteFile(file, []byte(token), 0o600)
}

// run is one level's measurement: a namespace with its apps and the daemon of
// the moment.
type run struct {
	o         options
	level     level
	ns        string
	token     string
	tokenFile string
	apps      harness.Apps
	names     []string
	daemon    *harness.Daemon
	daemons   int
	// prom, with -prometheus-down, is the measured daemon's Prometheus.
	prom    *blackhole
	traffic *harness.TrafficWatch
	res     *result
}

// setupQPS is the client rate of the daemon that brings the rollouts to 50%:
// with the default rate, 1000 rollouts polling for their canaries' readiness
// starve one another for minutes. The daemon measured then takes over.
const setupQPS = 1000

// setupWorkers are the setup daemon's workers: on a busy API server a canary's
// Service create can take seconds, and 1000 of them behind 32 workers took
// longer than the measurement.
const setupWorkers = 256

func measure(ctx context.Context, o options, kube kubernetes.Interface, pool *capacity.Pool, token, tokenFile string, l level) (result, error) {
	res := result{level: l, daemon: map[string]histogram{}}
	ns := fmt.Sprintf("bench-rollback-%d-%s", l.rollouts, pool.ID)
	drop, err := harness.Namespace(ctx, kube, ns)
	if err != nil {
		return res, err
	}
	defer drop(5 * time.Minute)
	r := &run{o: o, level: l, ns: ns, token: token, tokenFile: tokenFile, res: &res, names: harness.Names(l.rollouts),
		apps: harness.Apps{Kube: kube, Namespace: ns, RPS: o.rps, Place: pool.Place, Annotations: map[string]string{
			"rolloutd.io/steps": "50", "rolloutd.io/interval": "30m", "rolloutd.io/threshold": "0",
			"rolloutd.io/checks": "error-rate<=1%+baseline",
			// A healthy canary must wait at 50% for its alert, not be promoted
			// early on strong evidence.
			"rolloutd.io/adaptive": "false"}}}
	defer func() {
		if r.daemon != nil {
			r.daemon.Stop()
		}
	}()
	fmt.Printf("\n== %s: namespace %s, daemon logs %s/rolloutd-%s-*.log\n", l, ns, o.logDir, ns)
	if r.traffic, err = harness.WatchTraffic(ctx, kube, ns); err != nil {
		return res, err
	}
	if err := r.swap(ctx, false); err != nil {
		return res, err
	}
	if err := r.apps.Create(ctx, r.names); err != nil {
		return res, err
	}
	if err := r.apps.Wait(ctx, r.names, "taken over", o.timeout, harness.TakenOver); err != nil {
		return res, err
	}
	if o.promDown {
		if r.prom, err = startBlackhole(); err != nil {
			return res, err
		}
		defer r.prom.Close()
	} else if o.alertsOnly {
		fmt.Println("  -alerts-only: no failed gates")
	} else if err := r.gates(ctx); err != nil {
		return res, fmt.Errorf("failed gates: %w", err)
	}
	if err := r.swap(ctx, false); err != nil {
		return res, err
	}
	if err := r.alerts(ctx); err != nil {
		return res, fmt.Errorf("alerts: %w", err)
	}
	return res, nil
}

// swap stops the running daemon and starts the setup one, or the one measured
// (with the options under test) and waits until its workqueue is empty, so the
// measurement starts from a daemon at rest.
func (r *run) swap(ctx context.Context, measured bool) error {
	if r.daemon != nil {
		r.daemon.Stop()
		r.daemon = nil
	}
	r.daemons++
	env := []string{fmt.Sprintf("ROLLOUTD_KUBE_QPS=%d", setupQPS), fmt.Sprintf("ROLLOUTD_KUBE_BURST=%d", 2*setupQPS),
		fmt.Sprintf("ROLLOUTD_WORKERS=%d", setupWorkers)}
	role := "setup"
	if measured {
		env, role = nil, "measured"
		if r.o.kubeQPS > 0 {
			env = []string{fmt.Sprintf("ROLLOUTD_KUBE_QPS=%d", r.o.kubeQPS), fmt.Sprintf("ROLLOUTD_KUBE_BURST=%d", 2*r.o.kubeQPS)}
		}
		if r.o.env != "" {
			env = append(env, strings.Split(r.o.env, ",")...)
		}
		if r.prom != nil {
			// Gates hang for good instead of failing after their retries.
			env = append(env, "ROLLOUTD_PROMETHEUS_URL="+r.prom.URL(), "ROLLOUTD_QUERY_TIMEOUT=1h", "ROLLOUTD_GATE_TIMEOUT=2h")
		}
	}
	d, err := harness.StartDaemon(ctx, harness.DaemonOptions{Bin: r.o.bin, Kubeconfig: r.o.Kubeconfig, Namespace: r.ns, PrometheusURL: r.o.Prometheus,
		TokenFile: r.tokenFile, LogDir: r.o.logDir, LogName: fmt.Sprintf("rolloutd-%s-%d-%s.log", r.ns, r.daemons, role), Env: env})
	if err != nil {
		return err
	}
	r.daemon = d
	if !measured {
		return nil
	}
	t0 := time.Now()
	idle := 0
	err = wait.PollUntilContextTimeout(ctx, time.Second, r.o.timeout, true, func(ctx context.Context) (bool, error) {
		text, err := d.Metrics(ctx)
		if err != nil {
			return false, nil
		}
		if strings.Contains(text, "\nrolloutd_workqueue_depth 0\n") {
			idle++
		} else {
			idle = 0
		}
		return idle >= 3, nil
	})
	if err != nil {
		return fmt.Errorf("measured daemon's workqueue not empty: %w", err)
	}
	fmt.Printf("  measured daemon at rest after %s\n", time.Since(t0).Round(time.Second))
	return nil
}

// trigger runs f for every app, all at once or one at a time (waiting for each
// canary to lose its traffic before the next), and returns when each started.
func (r *run) trigger(ctx context.Context, f func(name string) error) (map[string]time.Time, error) {
	starts := make([]time.Time, len(r.names))
	one := func(i int) error {
		starts[i] = time.Now()
		return f(r.names[i])
	}
	var err error
	if r.level.burst {
		err = harness.Parallel(len(r.names), one)
	} else {
		for i, name := range r.names {
			if err = one(i); err != nil {
				break
			}
			if _, ok := r.traffic.WaitZero(ctx, name, starts[i], time.Minute); !ok {
				fmt.Printf("  %s: canary traffic not 0 within a minute\n", name)
			}
		}
	}
	out := map[string]time.Time{}
	for i, name := range r.names {
		out[name] = starts[i]
	}
	return out, err
}

// zeroTimes waits (up to two minutes each, less once the deadline nears) for
// every canary to lose its traffic and returns when it did.
func (r *run) zeroTimes(ctx context.Context) map[string]time.Time {
	out := map[string]time.Time{}
	missing := 0
	for _, name := range r.names {
		if _, ok := r.traffic.WaitZero(ctx, name, time.Time{}, 2*time.Minute); !ok {
			missing++
			continue
		}
		at, _ := r.traffic.ZeroAt(name)
		out[name] = at
	}
	if missing > 0 {
		fmt.Printf("  %d of %d canaries kept traffic\n", missing, len(r.names))
	}
	return out
}
