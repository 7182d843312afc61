package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/rolloutd/rolloutd/e2e/bench/capacity"
	"github.com/rolloutd/rolloutd/e2e/bench/harness"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

type result struct {
	size
	start            time.Duration // informer sync
	idleRSS, peakRSS float64       // MiB
	idleAnon         float64       // MiB of idleRSS that is not the binary's mapped pages
	gates            float64
	cpuPerGate       float64
	apiPerGate       float64            // the daemon's rolloutd_kube_requests_total delta per gate
	requests         map[string]float64 // that delta by verb, resource and code
	throttled        float64            // seconds requests waited for the client rate limit
	queryMean        time.Duration      // mean Prometheus query latency
	gateMean         time.Duration      // mean gate evaluation time
	reconcileMean    time.Duration      // mean reconcile time
	queriesPerGate   float64
	delays           []time.Duration // step deadline to write
	took             time.Duration   // release to all settled
}

// measure runs one size: the daemon taking over s.total Deployments, idle, then
// rolling s.rolling of them out at once.
func measure(ctx context.Context, o options, s size) (result, error) {
	r := result{size: s}
	_, kube, err := harness.Connect(o.Kubeconfig, 200, 400)
	if err != nil {
		return r, err
	}
	ns, cleanup, err := prepare(ctx, kube, o, s)
	defer cleanup()
	if err != nil {
		return r, err
	}
	d, err := startDaemon(ctx, o, ns)
	if err != nil {
		return r, err
	}
	defer d.Stop()
	if err := measureIdle(ctx, kube, o, d, ns, &r); err != nil {
		return r, err
	}
	if s.rolling == 0 {
		_, r.peakRSS = d.memory()
		return r, nil
	}
	return r, measureRelease(ctx, kube, o, d, ns, &r)
}

// prepare makes room for the rolling Deployments' pods and creates them all in
// a namespace of their own; cleanup drops the namespace, then the room.
func prepare(ctx context.Context, kube kubernetes.Interface, o options, s size) (ns string, cleanup func(), err error) {
	var undo []func()
	cleanup = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	var place func(*corev1.PodSpec)
	if s.rolling > 0 {
		// Each rolling Deployment runs a stable and a canary pod, and a third
		// while the promoted revision replaces the stable one.
		pool, err := capacity.Add(ctx, kube, 3*s.rolling)
		if err != nil {
			return "", cleanup, err
		}
		undo = append(undo, func() { _ = pool.Remove(context.Background()) })
		place = pool.Place
	}
	ns = fmt.Sprintf("bench-scale-%d-%d", s.total, rand.IntN(1e6))
	drop, err := harness.Namespace(ctx, kube, ns)
	if err != nil {
		return "", cleanup, err
	}
	undo = append(undo, func() { drop(5 * time.Minute) })
	if err := populate(ctx, kube, ns, s, o.interval, place); err != nil {
		return "", cleanup, fmt.Errorf("populate: %w", err)
	}
	return ns, cleanup, nil
}

// measureIdle waits for the daemon to take the rolling Deployments over and
// records its start and idle figures.
func measureIdle(ctx context.Context, kube kubernetes.Interface, o options, d *daemon, ns string, r *result) error {
	if err := waitFor(ctx, func() (bool, error) {
		n, err := count(ctx, kube, ns, false)
		return n == r.rolling, err
	}); err != nil {
		return fmt.Errorf("take over: %w", err)
	}
	r.start, _ = d.syncTime()
	r.idleRSS, _ = d.idleMemory(ctx)
	r.idleAnon = d.Memory()["RssAnon"]
	if o.heapProfile != "" {
		if err := d.saveProfile("heap", fmt.Sprintf("%s.%d-%d", o.heapProfile, r.total, r.rolling)); err != nil {
			fmt.Fprintf(os.Stderr, "heap profile: %v\n", err)
		}
	}
	return nil
}

// measureRelease releases every rolling Deployment, waits for all to settle and
// records the daemon's figures per gate over that time.
func measureRelease(ctx context.Context, kube kubernetes.Interface, o options, d *daemon, ns string, r *result) error {
	cpu0, gates0, q0 := d.CPUSeconds(), d.metric("rolloutd_gates_total"), d.metric("rolloutd_analysis_query_duration_seconds_count")
	req0, wait0 := d.series("rolloutd_kube_requests_total"), d.metric("rolloutd_kube_client_throttle_seconds_sum")
	means0 := d.means()
	sw := watchSteps(ctx, kube, ns, o.interval)
	t0 := time.Now()
	profiled := make(chan struct{})
	go func() {
		defer close(profiled)
		if o.cpuProfile != "" {
			if err := d.saveProfile("profile?seconds=30", fmt.Sprintf("%s.%d-%d", o.cpuProfile, r.total, r.rolling)); err != nil {
				fmt.Fprintf(os.Stderr, "cpu profile: %v\n", err)
			}
		}
	}()
	defer func() { <-profiled }()
	if err := releaseAll(ctx, kube, ns, r.size, o.spread); err != nil {
		return err
	}
	if err := waitFor(ctx, func() (bool, error) { n, err := count(ctx, kube, ns, true); return n == r.rolling, err }); err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	r.took = time.Since(t0)
	_, r.peakRSS = d.memory()
	r.gates = d.metric("rolloutd_gates_total") - gates0
	if r.gates > 0 {
		r.cpuPerGate = (d.CPUSeconds() - cpu0) / r.gates
		r.requests = map[string]float64{}
		for k, v := range d.series("rolloutd_kube_requests_total") {
			if n := v - req0[k]; n > 0 {
				r.requests[k] = n
				r.apiPerGate += n / r.gates
			}
		}
		r.throttled = d.metric("rolloutd_kube_client_throttle_seconds_sum") - wait0
		r.queryMean, r.gateMean, r.reconcileMean = d.means().since(means0)
		r.queriesPerGate = (d.metric("rolloutd_analysis_query_duration_seconds_count") - q0) / r.gates
	}
	r.delays = sw.result()
	return nil
}

func waitFor(ctx context.Context, cond func() (bool, error)) error {
	return wait.PollUntilContextCancel(ctx, time.Second, true, func(context.Context) (bool, error) {
		ok, err := cond()
		return ok && err == nil, nil
	})
}

// stepWatch records, for each status write that ends a step (next step, promotion
// or rollback), how long after the step's deadline (start + interval) it was seen.
type stepWatch struct {
	mu     sync.Mutex
	prev   map[string]contract.Status
	delays []time.Duration
}

func watchSteps(ctx context.Context, kube kubernetes.Interface, ns string, step time.Duration) *stepWatch {
	sw := &stepWatch{prev: map[string]contract.Status{}}
	f := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithNamespace(ns))
	_, err := f.Apps().V1().Deployments().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { sw.see(obj.(*appsv1.Deployment), step) },
		UpdateFunc: func(_, obj any) { sw.see(obj.(*appsv1.Deployment), step) },
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "step watch: %v\n", err)
		return sw
	}
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	return sw
}

// see records a step's end when d's status left a Progressing step.
func (sw *stepWatch) see(d *appsv1.Deployment, step time.Duration) {
	st, err := contract.Read(d.Annotations)
	if err != nil {
		return
	}
	now := time.Now()
	sw.mu.Lock()
	defer sw.mu.Unlock()
	p := sw.prev[d.Name]
	if p.Phase == contract.Progressing && p.StepStartedAt != nil && (st.Step != p.Step || st.Phase != p.Phase) {
		sw.delays = append(sw.delays, now.Sub(p.StepStartedAt.Add(step)))
	}
	sw.prev[d.Name] = st
}

func (sw *stepWatch) result() []time.Duration {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	out := append([]time.Duration(nil), sw.delays...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[int(q*float64(len(d)-1)+0.5)]
}

func printTable(w io.Writer, rows []result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "deployments\trolling\tstart\tidle RSS MiB\tof it anon\tpeak RSS MiB\tgates\tCPU s/gate\tAPI req/gate\tqueries/gate\tstep delay p50\tp99\tmax\tall settled\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%d\t%v\t%.1f\t%.1f\t%.1f\t%.0f\t%.4f\t%.1f\t%.1f\t%v\t%v\t%v\t%v\t\n", r.total, r.rolling,
			r.start.Round(time.Millisecond), r.idleRSS, r.idleAnon, r.peakRSS, r.gates, r.cpuPerGate, r.apiPerGate, r.queriesPerGate,
			quantile(r.delays, 0.5).Round(time.Millisecond), quantile(r.delays, 0.99).Round(time.Millisecond),
			quantile(r.delays, 1).Round(time.Millisecond), r.took.Round(time.Second))
	}
	tw.Flush()
	for _, r := range rows {
		fmt.Fprintf(w, "%d/%d: mean Prometheus query %v, gate %v, reconcile %v; client rate-limit wait %.1fs in all; API requests per gate by kind (rolloutd_kube_requests_total):\n",
			r.total, r.rolling, r.queryMean.Round(time.Millisecond), r.gateMean.Round(time.Millisecond), r.reconcileMean.Round(time.Millisecond), r.throttled)
		kinds := make([]string, 0, len(r.requests))
		for k := range r.requests {
			kinds = append(kinds, k)
		}
		sort.Slice(kinds, func(i, j int) bool { return r.requests[kinds[i]] > r.requests[kinds[j]] })
		for _, k := range kinds {
			fmt.Fprintf(w, "  %6.2f  %s\n", r.requests[k]/r.gates, k)
		}
	}
	for i := 1; i < len(rows); i++ {
		a, b := rows[i-1], rows[i]
		fmt.Fprintf(w, "growth %d→%d deployments (%d→%d rolling, x%.0f): start x%.2f, idle RSS x%.2f, peak RSS x%.2f, CPU/gate x%.2f, step delay p99 x%.2f\n",
			a.total, b.total, a.rolling, b.rolling, float64(b.rolling)/float64(a.rolling),
			ratio(float64(b.start), float64(a.start)), ratio(b.idleRSS, a.idleRSS), ratio(b.peakRSS, a.peakRSS),
			ratio(b.cpuPerGate, a.cpuPerGate), ratio(float64(quantile(b.delays, 0.99)), float64(quantile(a.delays, 0.99))))
	}
}

func ratio(b, a float64) float64 {
	if a == 0 {
		return 0
	}
	return b / a
}
