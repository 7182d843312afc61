package sandbox

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

// clusterComponents are the process names kwokctl runs for the cluster.
var clusterComponents = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-controller"}

// UpOptions tune Up.
type UpOptions struct {
	// Out receives progress and the summary.
	Out io.Writer
	// Seed is the simulator's noise seed; 0 keeps the running sandbox's seed
	// or picks a random one.
	Seed int64
}

// Up starts whatever part of the sandbox is not running and healthy, and
// prints where everything is. Components that are healthy are left alone, so a
// second Up only prints the summary; a crashed cluster is cleaned up and
// started afresh.
func Up(ctx context.Context, opts UpOptions) error {
	begin := time.Now()
	out := opts.Out
	if err := checkCommands(); err != nil {
		return err
	}
	l, unlock, err := lockedLayout(out)
	if err != nil {
		return err
	}
	defer unlock()
	if err := l.mkdirs(); err != nil {
		return err
	}
	if err := checkPorts(l); err != nil {
		return err
	}
	if err := ensureMonitoring(out); err != nil {
		return err
	}
	stepBegin := time.Now()
	tools, err := buildTools(l, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "tools ready in %.1fs (%s)\n", time.Since(stepBegin).Seconds(), tools.CacheDir)
	if err := linkTools(l, tools); err != nil {
		return err
	}
	clusterNew, err := ensureCluster(ctx, l, tools, out)
	if err != nil {
		return err
	}
	if err := ensureCRDs(ctx, l, tools, clusterNew, out); err != nil {
		return err
	}
	seed := chooseSeed(l, opts.Seed)
	simOn, err := ensureServices(ctx, l, seed, clusterNew, out)
	if err != nil {
		return err
	}
	env := facts(l, tools, seed, simOn)
	if err := WriteEnvFile(l.EnvFile(), env); err != nil {
		return err
	}
	printSummary(out, l, env, simOn)
	fmt.Fprintf(out, "sandbox up in %.1fs\n", time.Since(begin).Seconds())
	return nil
}

// ensureCluster keeps a healthy cluster and otherwise deletes whatever is left
// of an earlier one and creates it anew. It reports whether it created one.
func ensureCluster(ctx context.Context, l Layout, t Tools, out io.Writer) (bool, error) {
	pf := pidFiles{dir: l.PidDir()}
	if pf.running("kube-apiserver") {
		// A busy cluster (parallel tests) may answer slowly: deleting it
		// would wipe everyone's work, so give it time before starting afresh.
		err := poll(ctx, time.Minute, "the running cluster to answer", func(ctx context.Context) error {
			return clusterHealthy(ctx, l)
		})
		if err == nil {
			return false, nil
		}
		fmt.Fprintf(out, "the running cluster is not healthy: %v\n", err)
	}
	if _, err := os.Stat(clusterDir(l)); err == nil {
		fmt.Fprintln(out, "cleaning up an earlier cluster that is not healthy")
	}
	if err := removeCluster(ctx, l, t); err != nil {
		return false, err
	}
	fmt.Fprintln(out, "starting the cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)")
	begin := time.Now()
	if err := createCluster(ctx, l, t); err != nil {
		return false, err
	}
	if err := waitClusterReady(ctx, l, 2*time.Minute); err != nil {
		return false, withLogTails(err, clusterLogs(l)...)
	}
	fmt.Fprintf(out, "cluster ready with %d nodes in %.1fs\n", nodeCount, time.Since(begin).Seconds())
	return true, nil
}

// removeCluster deletes the kwokctl cluster and stops any of its processes
// that survived.
func removeCluster(ctx context.Context, l Layout, t Tools) error {
	if err := deleteCluster(ctx, l, t); err != nil {
		return fmt.Errorf("delete the old cluster: %w", withLogTails(err, clusterLogs(l)...))
	}
	pf := pidFiles{dir: l.PidDir()}
	for _, name := range clusterComponents {
		if err := pf.stop(name, 10*time.Second); err != nil {
			return err
		}
	}
	if _, err := killStrays(l.Dir, clusterComponents, 10*time.Second); err != nil {
		return err
	}
	return nil
}

// ensureServices starts Alertmanager, Prometheus and the simulator where they
// are not running. It reports whether the simulator runs.
func ensureServices(ctx context.Context, l Layout, seed int64, clusterNew bool, out io.Writer) (bool, error) {
	for _, s := range []service{alertmanagerService(l), prometheusService(l)} {
		if err := announce(ctx, l, s, out); err != nil {
			return false, err
		}
	}
	if !buildSimulator(ctx, l, out) {
		return false, nil
	}
	pf := pidFiles{dir: l.PidDir()}
	if clusterNew {
		// Its watches point at a cluster that no longer exists.
		if err := pf.stop(simName, 10*time.Second); err != nil {
			return false, err
		}
	}
	if err := stopStaleSimulator(l); err != nil {
		return false, err
	}
	if err := announce(ctx, l, simulatorService(l, seed), out); err != nil {
		return false, err
	}
	return true, nil
}

func announce(ctx context.Context, l Layout, s service, out io.Writer) error {
	begin := time.Now()
	started, err := s.ensure(ctx, l)
	if started && err == nil {
		fmt.Fprintf(out, "started %s on %s in %.1fs\n", s.name, s.addr, time.Since(begin).Seconds())
	}
	return err
}

// chooseSeed prefers an explicit seed, then the seed of the running sandbox,
// then a random one.
func chooseSeed(l Layout, explicit int64) int64 {
	if explicit != 0 {
		return explicit
	}
	if env, err := ReadEnvFile(l.EnvFile()); err == nil {
		if s, err := strconv.ParseInt(env[EnvSimulatorSeed], 10, 64); err == nil && s != 0 {
			return s
		}
	}
	return rand.Int64N(1<<31) + 1
}

// ensureCRDs installs Istio's networking CRDs and the Gateway API's
// standard-channel CRDs (with GatewayClass sim) on a new cluster or where
// they are missing.
func ensureCRDs(ctx context.Context, l Layout, tools Tools, clusterNew bool, out io.Writer) error {
	if clusterNew || !istioCRDsPresent(ctx, l, tools) {
		begin := time.Now()
		if err := applyIstioCRDs(ctx, l, tools); err != nil {
			return err
		}
		fmt.Fprintf(out, "Istio CRDs established in %.1fs\n", time.Since(begin).Seconds())
	}
	if clusterNew || !gatewayAPIPresent(ctx, l, tools) {
		begin := time.Now()
		if err := applyGatewayAPI(ctx, l, tools); err != nil {
			return err
		}
		fmt.Fprintf(out, "Gateway API CRDs (standard channel) and GatewayClass %s ready in %.1fs\n", SimGatewayClass, time.Since(begin).Seconds())
	}
	return nil
}

// istioCRDsPresent checks for the VirtualService CRD.
func istioCRDsPresent(ctx context.Context, l Layout, t Tools) bool {
	return kubectl(ctx, l, t, "get", "crd", "virtualservices.networking.istio.io", "destinationrules.networking.istio.io") == nil
}

// checkPorts fails early, before anything starts, when a port of a component
// that is not already running is taken by another program.
func checkPorts(l Layout) error {
	pf := pidFiles{dir: l.PidDir()}
	for _, s := range []struct{ name, addr string }{
		{"alertmanager", l.AlertmanagerAddr()}, {"prometheus", l.PrometheusAddr()}, {simName, l.SimulatorAddr()},
	} {
		if !pf.running(s.name) {
			if err := checkPortFree(s.addr, s.name); err != nil {
				return err
			}
		}
	}
	for _, name := range clusterComponents {
		if pf.running(name) {
			// Ours: a healthy cluster is kept, a broken one is removed
			// before createCluster checks its ports again.
			return nil
		}
	}
	for _, p := range l.clusterPorts() {
		if err := checkPortFree(loopback(p.port), p.what); err != nil {
			return err
		}
	}
	return nil
}
