package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Down stops every process the sandbox started: the simulator, Prometheus and
// Alertmanager by PID, the cluster through kwokctl and then by PID, and
// finally any leftover sandbox process found in /proc. It then verifies that
// none is left. Running it when nothing runs is harmless.
func Down(ctx context.Context, out io.Writer) error {
	l, unlock, err := lockedLayout(out)
	if err != nil {
		return err
	}
	defer unlock()
	pf := pidFiles{dir: l.PidDir()}
	var errs []error
	for _, name := range []string{simName, "prometheus", "alertmanager"} {
		errs = append(errs, pf.stop(name, 10*time.Second))
	}
	if t, ok := cachedTools(l); ok {
		errs = append(errs, deleteCluster(ctx, l, t))
	}
	names, err := pf.names()
	errs = append(errs, err)
	for _, name := range names {
		errs = append(errs, pf.stop(name, 10*time.Second))
	}
	strays, err := killStrays(l.Dir, componentNames, 10*time.Second)
	errs = append(errs, err)
	for _, p := range strays {
		fmt.Fprintf(out, "stopped leftover %s\n", p)
	}
	if err := verifyNothingLeft(l); err != nil {
		return errors.Join(append(errs, err)...)
	}
	errs = append(errs, removeState(l))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintln(out, "sandbox stopped: no sandbox process is left running")
	return nil
}

// cachedTools finds the tools the running sandbox used, without building.
func cachedTools(l Layout) (Tools, bool) {
	env, err := ReadEnvFile(l.EnvFile())
	if err != nil || env[EnvCacheDir] == "" {
		return Tools{}, false
	}
	t := Tools{CacheDir: env[EnvCacheDir]}
	_, err = os.Stat(t.Bin("kwokctl"))
	return t, err == nil
}

// verifyNothingLeft fails, naming them, if sandbox processes still run.
func verifyNothingLeft(l Layout) error {
	left, err := ourProcesses(l.Dir, componentNames)
	if err != nil {
		return err
	}
	if len(left) == 0 {
		return nil
	}
	lines := make([]string, len(left))
	for i, p := range left {
		lines[i] = p.String()
	}
	return fmt.Errorf("sandbox processes still running after stop:\n  %s", strings.Join(lines, "\n  "))
}

// removeState deletes PID files, the simulator checksum, the env file, the
// scrape targets and rule files tests left behind, kwokctl's cluster folder and
// Prometheus' store (samples of the cluster that is gone: a new one must not
// read them, and a large store outlasts the readiness wait when replayed);
// logs, configs and the kubeconfig stay for inspection.
func removeState(l Layout) error {
	var errs []error
	files, _ := filepath.Glob(filepath.Join(l.PidDir(), "*"))
	targets, _ := filepath.Glob(filepath.Join(l.PrometheusTargetsDir(), "*.json"))
	rules, _ := filepath.Glob(filepath.Join(l.PrometheusRulesDir(), "*.yml"))
	files = append(append(files, targets...), rules...)
	for _, f := range append(files, l.EnvFile()) {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, os.RemoveAll(clusterDir(l)), os.RemoveAll(l.PrometheusDataDir()))
	return errors.Join(errs...)
}
