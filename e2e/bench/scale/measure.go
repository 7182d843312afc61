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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rolloutd/rolloutd/internal/status"
)

type result struct {
	size
	start            time.Duration // informer sync
	idleRSS, peakRSS float64       // MiB
	gates            float64
	cpuPerGate       float64
	apiPerGate       float64 // cluster-wide apiserver_request_total delta per gate
	queriesPerGate   float64
	delays           []time.Duration // step deadline to write
	took             time.Duration   // release to all settled
}

func measure(ctx context.Context, o options, s size) (result, error) {
	r := result{size: s}
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return r, err
	}
	cfg.QPS, cfg.Burst = 200, 400
	kube := kubernetes.NewForConfigOrDie(cfg)
	ns := fmt.Sprintf("bench-scale-%d-%d", s.total, rand.IntN(1e6))
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return r, err
	}
	defer func() { _ = kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) }()
	if err := populate(ctx, kube, ns, s); err != nil {
		return r, fmt.Errorf("populate: %w", err)
	}
	d, err := startDaemon(o, ns)
	if err != nil {
		return r, err
	}
	defer d.stop()
	if err := waitFor(ctx, func() (bool, error) { n, err := count(ctx, kube, ns, false); return n == s.rolling, err }); err != nil {
		return r, fmt.Errorf("take over: %w", err)
	}
	r.start, _ = d.syncTime()
	r.idleRSS, _ = d.memory()
	cpu0, api0, gates0, q0 := d.cpu(), apiRequests(ctx, kube), d.metric("rolloutd_gates_total"), d.metric("rolloutd_analysis_query_duration_seconds_count")
	sw := watchSteps(ctx, kube, ns)
	t0 := time.Now()
	if err := releaseAll(ctx, kube, ns, s); err != nil {
		return r, err
	}
	if err := waitFor(ctx, func() (bool, error) { n, err := count(ctx, kube, ns, true); return n == s.rolling, err }); err != nil {
		return r, fmt.Errorf("settle: %w", err)
	}
	r.took = time.Since(t0)
	_, r.peakRSS = d.memory()
	r.gates = d.metric("rolloutd_gates_total") - gates0
	if r.gates > 0 {
		r.cpuPerGate = (d.cpu() - cpu0) / r.gates
		r.apiPerGate = (apiRequests(ctx, kube) - api0) / r.gates
		r.queriesPerGate = (d.metric("rolloutd_analysis_query_duration_seconds_count") - q0) / r.gates
	}
	r.delays = sw.result()
	return r, nil
}

func waitFor(ctx context.Context, cond func() (bool, error)) error {
	return wait.PollUntilContextCancel(ctx, time.Second, true, func(context.Context) (bool, error) {
		ok, err := cond()
		return ok && err == nil, nil
	})
}

// apiRequests is the API server's apiserver_request_total, summed (cluster-wide).
func apiRequests(ctx context.Context, kube kubernetes.Interface) float64 {
	b, err := kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return 0
	}
	return sumMetric(string(b), "apiserver_request_total")
}

// stepWatch records, for each status write that ends a step (next step, promotion
// or rollback), how long after the step's deadline (start + interval) it was seen.
type stepWatch struct {
	mu     sync.Mutex
	prev   map[string]status.Status
	delays []time.Duration
}

func watchSteps(ctx context.Context, kube kubernetes.Interface, ns string) *stepWatch {
	sw := &stepWatch{prev: map[string]status.Status{}}
	w, err := kube.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "step watch: %v\n", err)
		return sw
	}
	step, _ := time.ParseDuration(interval)
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			d, ok := ev.Object.(*appsv1.Deployment)
			if !ok {
				fmt.Fprintf(os.Stderr, "step watch: %s event %v\n", ev.Type, ev.Object)
				continue
			}
			st, err := status.Read(d.Annotations)
			if err != nil {
				continue
			}
			now := time.Now()
			sw.mu.Lock()
			p := sw.prev[d.Name]
			if p.Phase == status.Progressing && p.StepStartedAt != nil && (st.Step != p.Step || st.Phase != p.Phase) {
				sw.delays = append(sw.delays, now.Sub(p.StepStartedAt.Add(step)))
			}
			sw.prev[d.Name] = st
			sw.mu.Unlock()
		}
	}()
	return sw
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
	fmt.Fprintln(tw, "deployments\trolling\tstart\tidle RSS MiB\tpeak RSS MiB\tgates\tCPU s/gate\tAPI req/gate*\tqueries/gate\tstep delay p50\tp99\tmax\tall settled\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%d\t%v\t%.1f\t%.1f\t%.0f\t%.4f\t%.1f\t%.1f\t%v\t%v\t%v\t%v\t\n", r.total, r.rolling,
			r.start.Round(time.Millisecond), r.idleRSS, r.peakRSS, r.gates, r.cpuPerGate, r.apiPerGate, r.queriesPerGate,
			quantile(r.delays, 0.5).Round(time.Millisecond), quantile(r.delays, 0.99).Round(time.Millisecond),
			quantile(r.delays, 1).Round(time.Millisecond), r.took.Round(time.Second))
	}
	tw.Flush()
	fmt.Fprintln(w, "* cluster-wide apiserver_request_total delta (includes the controller manager, kwok, the simulator and other tests): an upper bound")
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
