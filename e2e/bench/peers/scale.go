package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/rolloutd/rolloutd/e2e/bench/capacity"
	"github.com/rolloutd/rolloutd/e2e/bench/harness"
)

// otherLabel marks the Deployments no tool manages; the state lists skip them.
const otherLabel = "bench.rolloutd.io/other"

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
	canaries     int
	idle, rollin usage
}

// scale measures t at each of -canaries beside -others plain Deployments in
// one namespace: an idle window once every app is taken over, then a window
// from releasing all of them to the end of their rollouts.
func (b *bench) scale(ctx context.Context, t tool) ([]sizeFigures, error) {
	sizes := b.o.canaries
	most := sizes[len(sizes)-1]
	// A stable and a canary pod per app, and one more while the promoted
	// version replaces the stable one.
	pool, err := capacity.Add(ctx, b.kube, 3*most)
	if err != nil {
		return nil, err
	}
	defer func() { _ = pool.Remove(context.Background()) }()
	ns := fmt.Sprintf("peers-scale-%s-%06d", strings.ToLower(t.name()), rand.IntN(1e6))
	drop, err := harness.Namespace(ctx, b.kube, ns)
	if err != nil {
		return nil, err
	}
	// Gone before the nodes go (kwok deletes the pods of live nodes at once)
	// and before the next tool starts, so it is not measured beside the
	// deletion.
	defer drop(5 * time.Minute)
	if err := b.createOthers(ctx, ns, b.o.others); err != nil {
		return nil, err
	}
	r, err := startRelays(b.cfg, b.promURL, b.dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	p, err := t.start(ctx, r, ns, b.dir)
	if err != nil {
		return nil, err
	}
	defer p.Stop()
	apps := harness.Apps{Kube: b.kube, Namespace: ns, RPS: appRPS, Bare: true, Place: pool.Place}
	all := harness.Names(most)
	m := meter{pid: p.Pid(), r: r}
	var out []sizeFigures
	have := 0
	for i, n := range sizes {
		if err := apps.Create(ctx, all[have:n]); err != nil {
			return out, err
		}
		if err := t.enroll(ctx, ns, r.prom.URL(), all[have:n], tuned); err != nil {
			return out, err
		}
		have = n
		f, err := b.size(ctx, t, apps, m, all[:n], fmt.Sprintf("example.com/app:v%d", i+2))
		if f.idle.minutes > 0 { // a size not taken over in time has no figures
			out = append(out, f)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func (b *bench) size(ctx context.Context, t tool, apps harness.Apps, m meter, names []string, image string) (sizeFigures, error) {
	f := sizeFigures{canaries: len(names)}
	waiting := func(s state) bool { return s.ready || s.settled }
	if err := waitAll(ctx, t, apps.Namespace, names, "taken over", b.o.scaleBound, waiting); err != nil {
		return f, err
	}
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
	fmt.Printf("  %s %d canaries: idle %+v\n  rolling %+v\n", t.name(), len(names), f.idle, f.rollin)
	return f, err
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
		name := fmt.Sprintf("other%05d", i)
		var zero int32
		labels := map[string]string{"app": name}
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{otherLabel: "true"}},
			Spec: appsv1.DeploymentSpec{Replicas: &zero, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: appV1}}}}},
		}
		if _, err := b.kube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create deployment %s: %w", name, err)
		}
		return nil
	})
}
