package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// gates releases a bad canary on every app, lets the canaries serve at 50% for
// the soak time, then makes their gates due by shortening the interval to 1s
// (at once or in turn): the gate fails and the rollback follows. The start is
// the daemon's "gate evaluated" log line of the gate that decided it.
func (r *run) gates(ctx context.Context) error {
	err := r.apps.Release(ctx, r.names, "example.com/app:bad", map[string]any{"sim.rolloutd.io/error-rate": r.o.errorRate})
	if err != nil {
		return err
	}
	if err := r.apps.Wait(ctx, r.names, "bad canaries at 50%", r.o.timeout, harness.AtWeight(50)); err != nil {
		return err
	}
	fmt.Printf("  canaries serve at 50%% for %s\n", r.o.soak)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(r.o.soak):
	}
	r.res.health = health(ctx, r.o.Prometheus, r.ns)
	fmt.Printf("  simulator and Prometheus: %s\n", r.res.health)
	if err := r.swap(ctx, true); err != nil {
		return err
	}
	starts, err := r.trigger(ctx, func(name string) error {
		return r.apps.AnnotateOne(ctx, name, map[string]string{"rolloutd.io/interval": "1s"})
	})
	if err != nil {
		return err
	}
	zeros := r.zeroTimes(ctx)
	evaluated, err := gateTimes(r.daemon.Log, r.ns)
	if err != nil {
		return err
	}
	for name, zero := range zeros {
		r.res.gateTrigger = append(r.res.gateTrigger, zero.Sub(starts[name]))
		if at, ok := lastBefore(evaluated[name], zero); ok {
			r.res.gate = append(r.res.gate, zero.Sub(at))
		}
	}
	if err := r.apps.Wait(ctx, r.names, "rolled back", r.o.timeout, rolledBack); err != nil {
		return err
	}
	if r.res.why, err = r.failures(ctx); err != nil {
		return err
	}
	return r.scrapeDaemon(ctx, causeGate)
}

func rolledBack(_ *appsv1.Deployment, st contract.Status) bool {
	return st.Phase == contract.RolledBack
}

// gateTimes reads the "gate evaluated" lines of the daemon's console log: per
// Deployment, the instants of its gates (millisecond precision).
func gateTimes(logPath, ns string) (map[string][]time.Time, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]time.Time{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		// ts, level, logger, caller, message, fields
		parts := strings.SplitN(sc.Text(), "\t", 6)
		if len(parts) < 6 || parts[4] != "gate evaluated" {
			continue
		}
		var fields struct{ Namespace, Deployment string }
		if json.Unmarshal([]byte(parts[5]), &fields) != nil || fields.Namespace != ns {
			continue
		}
		at, err := time.Parse("2006-01-02T15:04:05.000Z0700", parts[0])
		if err != nil {
			return nil, fmt.Errorf("daemon log %s: timestamp %q: %w", logPath, parts[0], err)
		}
		out[fields.Deployment] = append(out[fields.Deployment], at)
	}
	return out, sc.Err()
}

// lastBefore is the latest instant of ts not after t.
func lastBefore(ts []time.Time, t time.Time) (time.Time, bool) {
	var best time.Time
	for _, x := range ts {
		if !x.After(t) && x.After(best) {
			best = x
		}
	}
	return best, !best.IsZero()
}

// failures tallies why the gates failed, from each rollout's last checks: on a
// measured error rate, or without a value (no data, an error) and why.
func (r *run) failures(ctx context.Context) (map[string]int, error) {
	list, err := r.apps.Kube.AppsV1().Deployments(r.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for i := range list.Items {
		st, err := contract.Read(list.Items[i].Annotations)
		if err != nil || st.Phase != contract.RolledBack {
			continue
		}
		for _, c := range st.Checks {
			switch {
			case c.Value != nil:
				out[fmt.Sprintf("%s %s on a measured value", c.Name, c.Verdict)]++
			default:
				reason := c.Reason
				if len(reason) > 60 {
					reason = reason[:60] + "..."
				}
				out[fmt.Sprintf("%s %s without a value: %s", c.Name, c.Verdict, reason)]++
			}
		}
	}
	return out, nil
}
