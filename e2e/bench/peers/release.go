package main

import (
	"context"
	"errors"
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

// stage is one tool process on a namespace of its own apps, every app taken
// over. Each stage has its own relays, so closing one's Prometheus relay
// touches no other stage.
type stage struct {
	apps harness.Apps
	r    *relays
}

// startStage creates namespace ns with the apps names, starts t on it with
// the settings of prof and waits until t has taken every app over. stop ends
// the tool and its relays; the namespace is removed at the end of the phase.
func (b *bench) startStage(ctx context.Context, t tool, ns string, prof profile, names []string) (st stage, stop func(), err error) {
	stop = func() {}
	drop, err := harness.Namespace(ctx, b.kube, ns)
	if err != nil {
		return st, stop, err
	}
	b.dropLater(drop)
	st.apps = harness.Apps{Kube: b.kube, Namespace: ns, RPS: appRPS, Bare: true}
	if err := st.apps.Create(ctx, names); err != nil {
		return st, stop, err
	}
	if st.r, err = startRelays(b.cfg, b.promURL, b.dir); err != nil {
		return st, stop, err
	}
	p, err := t.start(ctx, st.r, ns, b.dir, prof)
	if err != nil {
		st.r.Close()
		return st, stop, err
	}
	stop = func() { p.Stop(); st.r.Close() }
	if err := t.enroll(ctx, ns, st.r.prom.URL(), names, prof); err != nil {
		return st, stop, err
	}
	_, err = waitAll(ctx, t, ns, names, "taken over", 3*time.Minute, func(s state) bool { return s.ready })
	return st, stop, err
}

// releases runs three stages of t at once, each on a tool process of its
// own: the bad and healthy releases at interval 10s, the bad release at the
// tool's defaults (rolloutd's process-wide settings differ), and the
// Prometheus-down release (its outage reaches no other release).
func (b *bench) releases(ctx context.Context, t tool) (releaseFigures, error) {
	var fig releaseFigures
	errs := make([]error, 3)
	var wg sync.WaitGroup
	wg.Go(func() {
		errs[0] = b.releaseStage(ctx, t, "tuned", tuned, []string{appBadTuned, appHealthy}, func(rs releaseStage) {
			var in sync.WaitGroup
			in.Go(func() { fig.badTuned = b.bad(ctx, t, rs, appBadTuned, b.o.tunedBound) })
			in.Go(func() { fig.healthy = b.healthy(ctx, t, rs.apps, appHealthy, b.o.tunedBound) })
			in.Wait()
		})
	})
	wg.Go(func() {
		errs[1] = b.releaseStage(ctx, t, "defaults", defaults, []string{appBadDefaults}, func(rs releaseStage) {
			fig.badDefaults = b.bad(ctx, t, rs, appBadDefaults, b.o.defaultsBound)
		})
	})
	wg.Go(func() {
		errs[2] = b.releaseStage(ctx, t, "down", tuned, []string{appPromDown}, func(rs releaseStage) {
			fig.promDown = b.promDown(ctx, t, rs.apps, rs.watch, rs.r.prom, appPromDown)
		})
	})
	wg.Wait()
	return fig, errors.Join(append(errs, ctx.Err())...)
}

// releaseStage is a stage with the watches the release scenarios score by.
type releaseStage struct {
	stage
	watch  *harness.TrafficWatch
	counts *canaryWatch
}

func (b *bench) releaseStage(ctx context.Context, t tool, label string, prof profile, names []string, run func(releaseStage)) error {
	ns := fmt.Sprintf("peers-%s-%s-%06d", strings.ToLower(t.name()), label, rand.IntN(1e6))
	st, stop, err := b.startStage(ctx, t, ns, prof, names)
	defer stop()
	if err != nil {
		return err
	}
	watch, err := harness.WatchTraffic(ctx, b.kube, ns)
	if err != nil {
		return err
	}
	run(releaseStage{stage: st, watch: watch, counts: b.sim.watchCanaries(ctx, ns)})
	return nil
}

func (b *bench) bad(ctx context.Context, t tool, rs releaseStage, app string, bound time.Duration) badResult {
	t0 := time.Now()
	if err := rs.apps.Release(ctx, []string{app}, appV2, map[string]any{"sim.rolloutd.io/error-rate": badShare}); err != nil {
		return badResult{outcome: err.Error()}
	}
	var r badResult
	r.zero, r.ok = rs.watch.WaitZero(ctx, app, t0, bound)
	r.outcome = settle(ctx, t, rs.apps.Namespace, app, bound-time.Since(t0))
	rs.counts.next(ctx)
	r.canary = rs.counts.get(app)
	prog.logf("%s %s: weight 0 after %v (%v), %s; canary answered %.0f requests, %.0f failed",
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
	prog.logf("%s %s: all traffic on %s after %v (%v), %s", t.name(), app, appV2, r.full.Round(time.Millisecond), r.ok, r.outcome)
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

// waitAll polls the tool's states until cond holds for every name, and
// returns for how many it held at the end.
func waitAll(ctx context.Context, t tool, ns string, names []string, what string, bound time.Duration, cond func(state) bool) (int, error) {
	n, shown, last := 0, -1, time.Time{}
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
		if n != shown && len(names) > 10 && (time.Since(last) > 15*time.Second || n == len(names)) {
			prog.logf("%s %s: %d of %d", t.name(), what, n, len(names))
			shown, last = n, time.Now()
		}
		return n == len(names), nil
	})
	if err != nil {
		return n, fmt.Errorf("%s %s: %d of %d after %v: %w", t.name(), what, n, len(names), bound, err)
	}
	return n, nil
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
	prog.logf("%s %s: %s", t.name(), app, tl)
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
