package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/rolloutd/rolloutd/e2e/bench/capacity"
	"github.com/rolloutd/rolloutd/e2e/bench/harness"
	"github.com/rolloutd/rolloutd/e2e/framework"
)

// otherLabel marks the Deployments no tool manages; the state lists skip them.
const otherLabel = "bench.rolloutd.io/other"

// otherPrefix begins the names of those Deployments (and so of their
// ReplicaSets); no app name begins with it.
const otherPrefix = "other"

// usage is what a tool spent over one window.
type usage struct {
	minutes          float64
	cpuPerMin        float64
	apiPerMin        float64
	queriesPerMin    float64
	rss, peakRSS     float64 // MiB at the window's end
	settled, rolling int     // apps that ended their rollout of the window, of rolling
}

// meter samples a tool's process and relays.
type meter struct {
	pid int
	r   *relays
}

type reading struct {
	at           time.Time
	cpu          float64
	api, queries int64
}

func (m meter) read() reading {
	return reading{at: time.Now(), cpu: harness.ProcCPUSeconds(m.pid), api: m.r.kube.Count(), queries: m.r.prom.Count()}
}

func (m meter) since(a reading) usage {
	b := m.read()
	mem := harness.ProcMemory(m.pid)
	u := usage{minutes: b.at.Sub(a.at).Minutes(), rss: mem["VmRSS"], peakRSS: mem["VmHWM"]}
	if u.minutes > 0 {
		u.cpuPerMin = (b.cpu - a.cpu) / u.minutes
		u.apiPerMin = float64(b.api-a.api) / u.minutes
		u.queriesPerMin = float64(b.queries-a.queries) / u.minutes
	}
	return u
}

// sizeFigures are one size's idle and rolling windows.
type sizeFigures struct {
	canaries int
	// takeover is enrolling the size's new apps until every app is taken over;
	// reached is how many were when the bound ran out (all of them when
	// measured).
	takeover time.Duration
	reached  int
	measured bool
	idle     usage
	rollin   usage
}

// scaleAll measures each tool in turn, one at a time, beside the same
// -others plain Deployments in one namespace and on the same temporary
// nodes, both made once: each tool's apps are removed (and gone) before the
// next tool starts.
func (b *bench) scaleAll(ctx context.Context, tools []tool, figs []toolFigures) error {
	setup := prog.phase("scale: nodes, namespace and " + fmt.Sprint(b.o.others) + " other Deployments")
	most := b.o.canaries[len(b.o.canaries)-1]
	// A stable and a canary pod per app, and one more while the promoted
	// version replaces the stable one.
	pool, err := capacity.Add(ctx, b.kube, 3*most)
	if err != nil {
		return err
	}
	defer func() { _ = pool.Remove(context.Background()) }()
	ns := fmt.Sprintf("peers-scale-%06d", rand.IntN(1e6))
	drop, err := harness.Namespace(ctx, b.kube, ns)
	if err != nil {
		return err
	}
	// Gone before the nodes go: kwok deletes the pods of live nodes at once.
	defer func() {
		done := prog.phase("scale: delete namespace " + ns)
		drop(5 * time.Minute)
		done()
	}()
	if err := b.createOthers(ctx, ns, b.o.others); err != nil {
		return err
	}
	// The controller manager works through 2,000 new Deployments for minutes
	// on a loaded machine; the first tool's apps would wait in its queue.
	if err := b.waitOthersObserved(ctx, ns); err != nil {
		return err
	}
	setup()
	for i, t := range tools {
		if i > 0 {
			clear := prog.phase("scale: remove " + tools[i-1].name() + "'s apps")
			if err := b.clearApps(ctx, ns); err != nil {
				return err
			}
			clear()
		}
		done := prog.phase("scale under " + t.name())
		figs[i].sizes, err = b.scale(ctx, t, ns, pool)
		done()
		if err != nil {
			return fmt.Errorf("%s scale: %w", t.name(), err)
		}
	}
	return nil
}

// scale measures t at each of -canaries in namespace ns: an idle window once
// every app is taken over, then a window from releasing all of them to the
// end of their rollouts. A size not taken over within -scale-bound is
// reported with how many were, and ends t's measurements.
func (b *bench) scale(ctx context.Context, t tool, ns string, pool *capacity.Pool) ([]sizeFigures, error) {
	sizes := b.o.canaries
	r, err := startRelays(b.cfg, b.promURL, b.dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	p, err := t.start(ctx, r, ns, b.dir, tuned)
	if err != nil {
		return nil, err
	}
	defer p.Stop()
	apps := harness.Apps{Kube: b.kube, Namespace: ns, RPS: appRPS, Bare: true, Place: pool.Place}
	all := appNames(strings.ToLower(t.name()), sizes[len(sizes)-1])
	m := meter{pid: p.Pid(), r: r}
	var out []sizeFigures
	have := 0
	for i, n := range sizes {
		f := sizeFigures{canaries: n}
		f.reached, f.takeover, err = b.takeOver(ctx, t, apps, r, all[:n], have)
		have = n
		if err != nil {
			prog.logf("%s %d canaries: %v; this size is not measured", t.name(), n, err)
			return append(out, f), ctx.Err()
		}
		f, err = b.size(ctx, t, apps, m, f, all[:n], fmt.Sprintf("example.com/app:v%d", i+2))
		out = append(out, f)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// appNames are the scale phase's app names of one tool, <prefix>-0000 on.
func appNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return out
}

// takeOver creates and enrolls names[from:] in batches of -enroll-batch,
// each batch once the one before is taken over, so neither tool meets a
// herd of new apps at once (Flagger starts one ticker per Canary, and a herd
// of them in lockstep timed out creating Services on a loaded API server).
// It returns how many of names were taken over and how long it took; all
// batches together are bound by -scale-bound.
func (b *bench) takeOver(ctx context.Context, t tool, apps harness.Apps, r *relays, names []string, from int) (int, time.Duration, error) {
	start := time.Now()
	deadline := start.Add(b.o.scaleBound) // for all batches together
	waiting := func(s state) bool { return s.ready || s.settled }
	reached := from
	for lo := from; lo < len(names); lo += b.o.enrollBatch {
		hi := min(lo+b.o.enrollBatch, len(names))
		if err := apps.Create(ctx, names[lo:hi]); err != nil {
			return reached, time.Since(start), err
		}
		if err := t.enroll(ctx, apps.Namespace, r.prom.URL(), names[lo:hi], tuned); err != nil {
			return reached, time.Since(start), err
		}
		var err error
		reached, err = waitAll(ctx, t, apps.Namespace, names[:hi], "taken over", max(time.Until(deadline), time.Second), waiting)
		if err != nil {
			return reached, time.Since(start), err
		}
	}
	return reached, time.Since(start), nil
}

// size measures n taken-over apps: an idle window, then a window from
// releasing all of them until every rollout ended (or -scale-bound).
func (b *bench) size(ctx context.Context, t tool, apps harness.Apps, m meter, f sizeFigures, names []string, image string) (sizeFigures, error) {
	prog.logf("%s %d canaries: taken over in %s; idle window %s", t.name(), len(names), f.takeover.Round(time.Second), b.o.idle)
	f.measured = true
	start := m.read()
	select {
	case <-ctx.Done():
		return f, ctx.Err()
	case <-time.After(b.o.idle):
	}
	f.idle = m.since(start)
	start = m.read()
	if err := apps.Release(ctx, names, image, nil); err != nil {
		return f, err
	}
	settled, err := waitRollouts(ctx, t, apps.Namespace, names, b.o.scaleBound)
	f.rollin = m.since(start)
	f.rollin.settled, f.rollin.rolling = settled, len(names)
	prog.logf("%s %d canaries: idle %+v", t.name(), len(names), f.idle)
	prog.logf("%s %d canaries: rolling %+v", t.name(), len(names), f.rollin)
	if err != nil {
		prog.logf("%v", err)
	}
	return f, ctx.Err()
}

// waitRollouts waits until every app has left its waiting state and settled
// again, and returns how many did.
func waitRollouts(ctx context.Context, t tool, ns string, names []string, bound time.Duration) (int, error) {
	moved, done := map[string]bool{}, map[string]bool{}
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, bound, true, func(ctx context.Context) (bool, error) {
		st, err := t.states(ctx, ns)
		if err != nil {
			return false, nil
		}
		for _, n := range names {
			s := st[n]
			if !s.ready && !s.settled {
				moved[n] = true
			} else if moved[n] {
				done[n] = true
			}
		}
		return len(done) == len(names), nil
	})
	if err != nil {
		return len(done), fmt.Errorf("%s rollouts: %d of %d ended within %v: %w", t.name(), len(done), len(names), bound, err)
	}
	return len(done), nil
}

// createOthers creates n Deployments of no replica that no tool manages.
func (b *bench) createOthers(ctx context.Context, ns string, n int) error {
	return harness.Parallel(n, func(i int) error {
		name := fmt.Sprintf("%s%05d", otherPrefix, i)
		d := framework.App{Name: name, Container: "web", Image: appV1}.Deployment(ns)
		d.Labels = map[string]string{otherLabel: "true"}
		if _, err := b.kube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create deployment %s: %w", name, err)
		}
		return nil
	})
}

// waitOthersObserved waits until the controller manager has synced every
// other Deployment (status.observedGeneration caught up; its ReplicaSet made).
func (b *bench) waitOthersObserved(ctx context.Context, ns string) error {
	n := 0
	err := wait.PollUntilContextTimeout(ctx, 5*time.Second, 10*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := b.kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{LabelSelector: otherLabel, ResourceVersion: "0"})
		if err != nil {
			return false, nil
		}
		n = 0
		for _, d := range list.Items {
			if d.Status.ObservedGeneration >= d.Generation {
				n++
			}
		}
		return n == b.o.others, nil
	})
	if err != nil {
		return fmt.Errorf("other Deployments synced by the controller manager: %d of %d: %w", n, b.o.others, err)
	}
	return nil
}
