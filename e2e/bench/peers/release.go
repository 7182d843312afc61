package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
	"github.com/rolloutd/rolloutd/router"
)

// appRPS is the simulated request rate of every app.
const appRPS = 20

const (
	appV1    = "example.com/app:v1"
	appV2    = "example.com/app:v2"
	badShare = "0.3" // sim.rolloutd.io/error-rate of the bad release
)

// The apps of the release scenarios, one namespace per tool.
const (
	appBadTuned    = "bad-tuned"
	appBadDefaults = "bad-defaults"
	appHealthy     = "healthy"
	appPromDown    = "prom-down"
)

// badResult is one bad release: template change to canary weight 0, and what
// the canary answered meanwhile.
type badResult struct {
	zero    time.Duration
	ok      bool   // the weight went to 0 within the bound
	outcome string // the tool's phase once settled
	canary  canaryCounts
}

// healthyResult is one healthy release: template change to all user traffic
// on the new version.
type healthyResult struct {
	full    time.Duration
	ok      bool
	outcome string
}

// releases runs the bad, healthy and Prometheus-down releases under t.
func (b *bench) releases(ctx context.Context, t tool) (releaseFigures, error) {
	var fig releaseFigures
	ns := fmt.Sprintf("peers-%s-%06d", strings.ToLower(t.name()), rand.IntN(1e6))
	drop, err := harness.Namespace(ctx, b.kube, ns)
	if err != nil {
		return fig, err
	}
	defer b.dropLater(drop)
	apps := harness.Apps{Kube: b.kube, Namespace: ns, RPS: appRPS, Bare: true}
	names := []string{appBadTuned, appBadDefaults, appHealthy, appPromDown}
	if err := apps.Create(ctx, names); err != nil {
		return fig, err
	}
	r, err := startRelays(b.cfg, b.promURL, b.dir)
	if err != nil {
		return fig, err
	}
	defer r.Close()
	p, err := t.start(ctx, r, ns, b.dir)
	if err != nil {
		return fig, err
	}
	defer p.Stop()
	if err := t.enroll(ctx, ns, r.prom.URL(), []string{appBadTuned, appHealthy, appPromDown}, tuned); err != nil {
		return fig, err
	}
	if err := t.enroll(ctx, ns, r.prom.URL(), []string{appBadDefaults}, defaults); err != nil {
		return fig, err
	}
	if err := waitAll(ctx, t, ns, names, "taken over", 3*time.Minute, func(s state) bool { return s.ready }); err != nil {
		return fig, err
	}
	watch, err := harness.WatchTraffic(ctx, b.kube, ns)
	if err != nil {
		return fig, err
	}
	counts := b.sim.watchCanaries(ctx, ns)
	var wg sync.WaitGroup
	wg.Go(func() { fig.badTuned = b.bad(ctx, t, apps, watch, counts, appBadTuned, b.o.tunedBound) })
	wg.Go(func() { fig.badDefaults = b.bad(ctx, t, apps, watch, counts, appBadDefaults, b.o.defaultsBound) })
	wg.Go(func() { fig.healthy = b.healthy(ctx, t, apps, appHealthy, b.o.tunedBound) })
	wg.Wait()
	fig.promDown = b.promDown(ctx, t, apps, watch, r.prom, appPromDown)
	return fig, ctx.Err()
}

func (b *bench) bad(ctx context.Context, t tool, apps harness.Apps, watch *harness.TrafficWatch, counts *canaryWatch, app string, bound time.Duration) badResult {
	t0 := time.Now()
	if err := apps.Release(ctx, []string{app}, appV2, map[string]any{"sim.rolloutd.io/error-rate": badShare}); err != nil {
		return badResult{outcome: err.Error()}
	}
	var r badResult
	r.zero, r.ok = watch.WaitZero(ctx, app, t0, bound)
	r.outcome = settle(ctx, t, apps.Namespace, app, bound-time.Since(t0))
	counts.next(ctx)
	r.canary = counts.get(app)
	fmt.Printf("  %s %s: weight 0 after %v (%v), %s; canary answered %.0f requests, %.0f failed\n",
		t.name(), app, r.zero.Round(time.Millisecond), r.ok, r.outcome, r.canary.total, r.canary.failed)
	return r
}

func (b *bench) healthy(ctx context.Context, t tool, apps harness.Apps, app string, bound time.Duration) healthyResult {
	t0 := time.Now()
	if err := apps.Release(ctx, []string{app}, appV2, nil); err != nil {
		return healthyResult{outcome: err.Error()}
	}
	var r healthyResult
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, bound, true, func(ctx context.Context) (bool, error) {
		share, err := b.sim.imageShare(ctx, apps.Namespace, app, appV2)
		return err == nil && share >= 0.999, nil
	})
	r.full, r.ok = time.Since(t0), err == nil
	r.outcome = settle(ctx, t, apps.Namespace, app, bound-time.Since(t0))
	fmt.Printf("  %s %s: all traffic on %s after %v (%v), %s\n", t.name(), app, appV2, r.full.Round(time.Millisecond), r.ok, r.outcome)
	return r
}

// settle waits for app's rollout to end and returns the tool's phase.
func settle(ctx context.Context, t tool, ns, app string, bound time.Duration) string {
	phase := "not settled"
	_ = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, max(bound, time.Second), true, func(ctx context.Context) (bool, error) {
		st, err := t.states(ctx, ns)
		if err != nil {
			return false, nil
		}
		s := st[app]
		if s.settled {
			phase = s.phase
		}
		return s.settled, nil
	})
	return phase
}

// waitAll polls the tool's states until cond holds for every name.
func waitAll(ctx context.Context, t tool, ns string, names []string, what string, bound time.Duration, cond func(state) bool) error {
	n := 0
	err := wait.PollUntilContextTimeout(ctx, time.Second, bound, true, func(ctx context.Context) (bool, error) {
		st, err := t.states(ctx, ns)
		if err != nil {
			return false, nil
		}
		n = 0
		for _, name := range names {
			if s, ok := st[name]; ok && cond(s) {
				n++
			}
		}
		return n == len(names), nil
	})
	if err != nil {
		return fmt.Errorf("%s %s: %d of %d after %v: %w", t.name(), what, n, len(names), bound, err)
	}
	return nil
}

// promDown releases a healthy version, stops Prometheus (the relay refuses
// connections) once the canary has traffic, starts it again after
// -prom-down, and records what the tool did meanwhile.
func (b *bench) promDown(ctx context.Context, t tool, apps harness.Apps, watch *harness.TrafficWatch, prom *counter, app string) string {
	if err := apps.Release(ctx, []string{app}, appV2, nil); err != nil {
		return err.Error()
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, b.o.tunedBound, true, func(context.Context) (bool, error) {
		return watch.Live(app), nil
	})
	if err != nil {
		return "the canary never got traffic"
	}
	var samples []sample
	observe := func() {
		phase, weight := b.observe(ctx, t, apps.Namespace, app)
		samples = append(samples, sample{at: time.Now(), phase: phase, weight: weight})
	}
	observe()
	down := time.Now()
	prom.Down()
	for time.Since(down) < b.o.promDown && ctx.Err() == nil {
		observe()
		time.Sleep(250 * time.Millisecond)
	}
	up := time.Now()
	if err := prom.Up(); err != nil {
		return err.Error()
	}
	for time.Since(up) < b.o.tunedBound && ctx.Err() == nil {
		observe()
		if st, err := t.states(ctx, apps.Namespace); err == nil && st[app].settled {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	observe()
	tl := timeline(samples, down, up)
	fmt.Printf("  %s %s: %s\n", t.name(), app, tl)
	return tl
}

// observe reads the tool's phase for app and the canary Ingress's weight (-1
// when there is none).
func (b *bench) observe(ctx context.Context, t tool, ns, app string) (string, int) {
	phase := "?"
	if st, err := t.states(ctx, ns); err == nil {
		phase = st[app].phase
	}
	ing, err := b.kube.NetworkingV1().Ingresses(ns).Get(ctx, app+"-canary", metav1.GetOptions{})
	if err != nil {
		return phase, -1
	}
	w, err := strconv.Atoi(ing.Annotations[router.AnnCanaryWeight])
	if err != nil {
		return phase, -1
	}
	return phase, w
}
