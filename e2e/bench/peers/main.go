// Command peers measures rolloutd and Flagger side by side on the sandbox, one
// tool at a time, with the same apps (harness Deployments, Services and
// Ingresses behind the simulated ingress-nginx), the same bad release and the
// nearest equivalent settings, and prints one markdown table with both and the
// ratio: bad release to canary weight 0 and the failed requests the canary
// served, at interval 10s and at each tool's defaults; a healthy release to
// full traffic; what each does while Prometheus is down; RSS, CPU, API
// requests and Prometheus queries at 10 and 200 canaries beside 2,000 other
// Deployments. Flagger is built once into the sandbox's cache. Both tools run
// out of cluster behind two counting relays (API server, Prometheus).
//
//	make bench-peers
//	go run ./e2e/bench/peers -phases releases -canaries 10
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
	"github.com/rolloutd/rolloutd/e2e/sandbox"
)

type options struct {
	envFile       string
	phases        map[string]bool
	canaries      []int
	others        int
	idle          time.Duration
	promDown      time.Duration
	tunedBound    time.Duration
	defaultsBound time.Duration
	scaleBound    time.Duration
	keepCRDs      bool
	keepLogs      bool
	enrollBatch   int
	// tools are the tools measured, by lower-case name.
	tools map[string]bool
	// serial runs the release phase one tool after the other.
	serial bool
	// kubeQPS and kubeBurst are both tools' API client limits.
	kubeQPS, kubeBurst int
}

// bench holds what every scenario shares.
type bench struct {
	o          options
	cfg        *rest.Config
	kube       kubernetes.Interface
	dyn        dynamic.Interface
	sim        simClient
	promURL    string
	kubeconfig string // the sandbox's admin kubeconfig
	binDir     string // the sandbox's kubectl
	dir        string // relay kubeconfigs and the tools' logs

	mu    sync.Mutex
	drops []func(time.Duration)
}

func main() { os.Exit(run()) }

func run() int {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// Ctrl-C ends the run early; namespaces, nodes and CRDs are still removed.
	return harness.Main("bench-peers", func(ctx context.Context) error { return measure(ctx, o) })
}

func parseFlags(args []string) (options, error) {
	var o options
	var phases, canaries, tools string
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	fs.StringVar(&o.envFile, "env", ".sandbox/env", "the sandbox's env file (written by make sandbox)")
	fs.StringVar(&phases, "phases", "releases,scale", "comma list of releases (bad, healthy, Prometheus down) and scale (RSS, CPU, requests)")
	fs.StringVar(&canaries, "canaries", "10,200", "ascending comma list of canary counts for the scale phase")
	fs.IntVar(&o.others, "others", 2000, "Deployments no tool manages, beside the canaries")
	fs.DurationVar(&o.idle, "idle", 30*time.Second, "length of each idle window")
	fs.DurationVar(&o.promDown, "prom-down", 45*time.Second, "how long Prometheus stays down during the rollout")
	fs.DurationVar(&o.tunedBound, "tuned-bound", 4*time.Minute, "bound of one release at interval 10s")
	fs.DurationVar(&o.defaultsBound, "defaults-bound", 8*time.Minute, "bound of one release at a tool's defaults")
	fs.DurationVar(&o.scaleBound, "scale-bound", 6*time.Minute, "bound of taking over, and of rolling, one size")
	fs.BoolVar(&o.keepCRDs, "keep-crds", false, "leave Flagger's CRDs installed at the end")
	fs.IntVar(&o.enrollBatch, "enroll-batch", 25, "scale phase: apps enrolled at once; the next batch once these are taken over")
	fs.BoolVar(&o.keepLogs, "keep-logs", false, "keep the tools' logs also when the run succeeds")
	fs.StringVar(&tools, "tools", "rolloutd,flagger", "comma list of the tools to measure (both for the table's ratios)")
	fs.BoolVar(&o.serial, "serial", false, "run the release phase one tool after the other (default: both at once, each on its own namespaces)")
	fs.IntVar(&o.kubeQPS, "kube-qps", 400, "API client QPS of both tools (ROLLOUTD_KUBE_QPS, Flagger's -kubeconfig-qps)")
	fs.IntVar(&o.kubeBurst, "kube-burst", 800, "API client burst of both tools (ROLLOUTD_KUBE_BURST, Flagger's -kubeconfig-burst)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.phases, err = parsePhases(phases); err != nil {
		return o, err
	}
	if o.canaries, err = parseCounts(canaries); err != nil {
		return o, err
	}
	if o.tools, err = parseTools(tools); err != nil {
		return o, err
	}
	if o.kubeQPS < 1 || o.kubeBurst < o.kubeQPS {
		return o, fmt.Errorf("-kube-qps %d -kube-burst %d: want a positive QPS and a burst at least as large", o.kubeQPS, o.kubeBurst)
	}
	if o.enrollBatch < 1 {
		return o, fmt.Errorf("-enroll-batch %d: want 1 or more", o.enrollBatch)
	}
	if o.others < 0 {
		return o, fmt.Errorf("-others %d: want 0 or more", o.others)
	}
	return o, nil
}

func parsePhases(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p != "releases" && p != "scale" {
			return nil, fmt.Errorf("-phases: unknown phase %q (want releases, scale)", p)
		}
		out[p] = true
	}
	return out, nil
}

func parseTools(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, t := range strings.Split(s, ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "rolloutd" && t != "flagger" {
			return nil, fmt.Errorf("-tools: unknown tool %q (want rolloutd, flagger)", t)
		}
		out[t] = true
	}
	return out, nil
}

// parseCounts reads an ascending list of positive counts, e.g. "10,200".
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || (len(out) > 0 && n <= out[len(out)-1]) {
			return nil, fmt.Errorf("-canaries %q: want ascending positive counts, e.g. 10,200", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func newBench(o options) (*bench, flaggerInstall, error) {
	env, err := sandbox.ReadEnvFile(o.envFile)
	if err != nil {
		return nil, flaggerInstall{}, err
	}
	cfg, kube, err := harness.Connect(env[sandbox.EnvKubeconfig], 200, 400)
	if err != nil {
		return nil, flaggerInstall{}, err
	}
	dir, err := os.MkdirTemp("", "bench-peers-")
	if err != nil {
		return nil, flaggerInstall{}, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, flaggerInstall{}, err
	}
	b := &bench{o: o, cfg: cfg, kube: kube, dyn: dyn, promURL: env[sandbox.EnvPrometheusURL], binDir: env[sandbox.EnvBinDir], dir: dir,
		kubeconfig: env[sandbox.EnvKubeconfig],
		sim:        simClient{url: env[sandbox.EnvSimulatorURL], kube: kube}}
	cache, err := cacheDir(env[sandbox.EnvCacheDir])
	return b, flaggerInstall{Dir: cache}, err
}

// buildRolloutd builds ./cmd/rolloutd into dir, a folder of this run's own.
func buildRolloutd(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "rolloutd")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/rolloutd").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build rolloutd: %w\n%s", err, out)
	}
	return bin, nil
}

func (b *bench) dropLater(drop func(time.Duration)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.drops = append(b.drops, drop)
}

// cleanup removes every namespace the run created, at once, and waits.
func (b *bench) cleanup() {
	b.mu.Lock()
	drops := b.drops
	b.drops = nil
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, d := range drops {
		wg.Go(func() { d(5 * time.Minute) })
	}
	wg.Wait()
}

func measure(ctx context.Context, o options) (err error) {
	b, inst, err := newBench(o)
	if err != nil {
		return err
	}
	// The tools' logs stay when the run fails.
	defer func() {
		if err == nil && !o.keepLogs {
			_ = os.RemoveAll(b.dir)
		} else {
			fmt.Fprintf(os.Stderr, "the tools' logs: %s\n", b.dir)
		}
	}()
	before := uptime()
	started := time.Now()
	if inst, err = ensureFlagger(ctx, inst.Dir); err != nil {
		return err
	}
	if err := kubectl(ctx, b.binDir, b.kubeconfig, "apply", "--server-side", "-f", inst.CRDs()); err != nil {
		return err
	}
	defer func() {
		b.cleanup()
		if !o.keepCRDs {
			if err := kubectl(context.Background(), b.binDir, b.kubeconfig, "delete", "--ignore-not-found", "-f", inst.CRDs()); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}
	}()
	built := gitDescribe()
	rbin, err := buildRolloutd(ctx, b.dir)
	if err != nil {
		return err
	}
	limits := apiLimits{qps: o.kubeQPS, burst: o.kubeBurst}
	var tools []tool
	if o.tools["rolloutd"] {
		tools = append(tools, rolloutd{bin: rbin, kube: b.kube, built: built, limits: limits})
	}
	if o.tools["flagger"] {
		tools = append(tools, flagger{install: inst, dyn: b.dyn, limits: limits})
	}
	figs, err := b.runAll(ctx, tools)
	rep := report{o: o, tools: tools, figs: figs, loadBefore: before, loadAfter: uptime(), took: time.Since(started), phases: prog.summary()}
	rep.collect(ctx, b)
	rep.write(os.Stdout)
	return err
}

// runAll runs the release phase of every tool at once (each on its own
// namespaces and tool processes; -serial: one after the other), then the
// scale phase of one tool at a time.
func (b *bench) runAll(ctx context.Context, tools []tool) ([]toolFigures, error) {
	figs := make([]toolFigures, len(tools))
	for i, t := range tools {
		figs[i].name, figs[i].version = t.name(), t.version()
	}
	if b.o.phases["releases"] {
		errs := make([]error, len(tools))
		var wg sync.WaitGroup
		for i, t := range tools {
			one := func() {
				done := prog.phase("releases under " + t.name())
				figs[i].rel, errs[i] = b.releases(ctx, t)
				figs[i].ranReleases = true
				done()
				if errs[i] != nil {
					errs[i] = fmt.Errorf("%s releases: %w", t.name(), errs[i])
				}
			}
			if b.o.serial {
				one()
			} else {
				wg.Go(one)
			}
		}
		wg.Wait()
		// The release namespaces go before the scale phase is measured.
		done := prog.phase("releases: delete their namespaces")
		b.cleanup()
		done()
		if err := errors.Join(errs...); err != nil {
			return figs, err
		}
	}
	if b.o.phases["scale"] {
		if err := b.scaleAll(ctx, tools, figs); err != nil {
			return figs, err
		}
	}
	return figs, nil
}
