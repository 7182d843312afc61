package main

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
)

// alerts releases a good canary on every app (the bad one was rolled back),
// waits until all serve at 50%, and sends a firing alert for each: one payload
// for all at once, or one per app in turn. The start is the POST.
func (r *run) alerts(ctx context.Context) error {
	if err := r.goodCanaries(ctx); err != nil {
		return err
	}
	if err := r.swap(ctx, true); err != nil {
		return err
	}
	if err := r.hangGates(ctx); err != nil {
		return err
	}
	starts, err := r.fire(ctx)
	if err != nil {
		return err
	}
	for name, zero := range r.zeroTimes(ctx) {
		r.res.alert = append(r.res.alert, zero.Sub(starts[name]))
	}
	// Every reconcile that rolled back has returned, and observed its latency.
	if err := r.apps.Wait(ctx, r.names, "rolled back", r.o.timeout, rolledBack); err != nil {
		return err
	}
	return r.scrapeDaemon(ctx, causeAlert)
}

// goodCanaries releases a good canary on every app and waits until each serves
// at 50% and the Ingress watch saw it.
func (r *run) goodCanaries(ctx context.Context) error {
	if err := r.apps.Annotate(ctx, r.names, map[string]string{"rolloutd.io/interval": "30m"}); err != nil {
		return err
	}
	if err := r.apps.Release(ctx, r.names, "example.com/app:v3", map[string]any{"sim.rolloutd.io/error-rate": nil}); err != nil {
		return err
	}
	if err := r.apps.Wait(ctx, r.names, "good canaries at 50%", r.o.timeout, harness.AtWeight(50)); err != nil {
		return err
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		for _, n := range r.names {
			if !r.traffic.Live(n) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("the Ingress watch did not see every canary at 50%%: %w", err)
	}
	return nil
}

// fire sends a firing alert for each app, in one payload or one per app in
// turn, and returns when each was sent.
func (r *run) fire(ctx context.Context) (map[string]time.Time, error) {
	post := func(names []string, at time.Time) error {
		var alerts []harness.Alert
		for _, n := range names {
			alerts = append(alerts, harness.Alert{Namespace: r.ns, App: n, Fingerprint: "rb-" + n})
		}
		body, err := harness.AlertPayload(alerts, at)
		if err != nil {
			return err
		}
		return harness.PostAlerts(ctx, r.daemon.Addr, r.token, body)
	}
	if !r.level.burst {
		return r.trigger(ctx, func(name string) error { return post([]string{name}, time.Now()) })
	}
	t0 := time.Now()
	if err := post(r.names, t0); err != nil {
		return nil, err
	}
	fmt.Printf("  one payload of %d alerts answered in %s\n", len(r.names), time.Since(t0).Round(time.Millisecond))
	starts := map[string]time.Time{}
	for _, n := range r.names {
		starts[n] = t0
	}
	return starts, nil
}

// hangGates, with -prometheus-down, makes every app's gate due (the interval
// shortened below the time its canary has served) and waits until the measured
// daemon's queries hang, up to its shared query slots.
func (r *run) hangGates(ctx context.Context) error {
	if r.prom == nil {
		return nil
	}
	if err := r.apps.Annotate(ctx, r.names, map[string]string{"rolloutd.io/interval": "1s"}); err != nil {
		return err
	}
	if err := r.prom.waitHanging(ctx, int64(min(len(r.names), 16))); err != nil {
		return fmt.Errorf("gates hanging on the blackhole Prometheus: %w", err)
	}
	fmt.Printf("  %d queries hanging on a Prometheus that never answers\n", r.prom.accepted.Load())
	return nil
}
