//go:build e2e

package e2e

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given an opted-in Deployment behind an Ingress with the default interval of 1m,
// when a release answers every request 500, or answers with a p99 five times the
// stable's, then the continuous judge fails that check at its first samples: the
// canary is back at weight 0 long before its first gate was due, with no gate
// counted (reason CheckFailed), and the status names the check with its evidence.
// The time from the canary's first traffic to weight 0 is logged (the sampler
// ticks every 10s).
func TestContinuousJudgeRollsBackAFailingCanaryBeforeItsFirstGate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, check, checks, reason string
		podAnn                      map[string]string
		atLeast                     float64 // the canary's figure in the status
	}{
		{"errors", "error-rate", "", "error rate above its limit", map[string]string{"sim.rolloutd.io/error-rate": "1"}, 0.9},
		// p99 400ms against the default 80ms, over latency-p99<=1.5x.
		{"latency", "latency-p99", "error-rate<=1%+baseline, latency-p99<=1.5x", "p99 latency above its limit",
			map[string]string{"sim.rolloutd.io/latency-ms": "40,400"}, 0.12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, ns := watchedScenario(t)
			ann := map[string]string{"rolloutd.io/interval": "1m"}
			if tc.checks != "" {
				ann["rolloutd.io/checks"] = tc.checks
			}
			a := app{name: "web", replicas: 3, router: "nginx", rps: 200, annotations: ann}
			a.create(t, env.Kube, ns)
			weights := watchCanaryWeightTimes(t, env, ns, a.name)

			release(t, env.Kube, ns, a.name, "example.com/web:broken", tc.podAnn)

			st := requireEnds(t, env.Kube, ns, a.name, 2*time.Minute, contract.RolledBack)
			assert.Equal(t, contract.ReasonCheckFailed, st.Reason, "message: %s", st.Message)
			assert.Zero(t, st.Failures, "no gate was counted")
			assert.Contains(t, st.Message, tc.check+": "+tc.reason)
			c := findCheck(st.Checks, tc.check)
			require.NotNil(t, c, "status checks %+v", st.Checks)
			assert.Equal(t, contract.Fail, c.Verdict)
			require.NotNil(t, c.Value)
			assert.Greater(t, *c.Value, tc.atLeast, "reason: %s", c.Reason)

			on, off := weights.firstOnThenOff()
			require.False(t, on.IsZero(), "the canary got traffic")
			require.False(t, off.IsZero(), "the canary lost its traffic")
			took := off.Sub(on)
			t.Logf("%s: first canary traffic to weight 0: %s (interval 1m, sample interval 10s)", tc.check, took)
			assert.Less(t, took, time.Minute, "back at weight 0 before the first gate was due")
		})
	}
}

// weightTimes records when the canary Ingress' weight changed, as seen by a watch.
type weightTimes struct {
	mu  sync.Mutex
	evs []weightAt
}

type weightAt struct {
	at time.Time
	w  int
}

func watchCanaryWeightTimes(t *testing.T, env *framework.Env, ns, name string) *weightTimes {
	t.Helper()
	wt := &weightTimes{}
	onEvents(t, func(ctx context.Context) (watch.Interface, error) {
		return env.Kube.NetworkingV1().Ingresses(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name + "-canary"})
	}, func(typ watch.EventType, ing *networkingv1.Ingress) {
		n, _ := strconv.Atoi(ing.Annotations["nginx.ingress.kubernetes.io/canary-weight"])
		if typ == watch.Deleted {
			n = 0
		}
		wt.mu.Lock()
		wt.evs = append(wt.evs, weightAt{at: time.Now(), w: n})
		wt.mu.Unlock()
	})
	return wt
}

// heldAt is how long the weight first set to w stayed at w: from that event to the
// next one with another weight (zero if w was never seen or is still set).
func (wt *weightTimes) heldAt(w int) time.Duration {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	var since time.Time
	for _, e := range wt.evs {
		switch {
		case since.IsZero() && e.w == w:
			since = e.at
		case !since.IsZero() && e.w != w:
			return e.at.Sub(since)
		}
	}
	return 0
}

// firstOnThenOff is when the weight first went above 0 and then first back to 0.
func (wt *weightTimes) firstOnThenOff() (on, off time.Time) {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	for _, e := range wt.evs {
		switch {
		case on.IsZero() && e.w > 0:
			on = e.at
		case !on.IsZero() && e.w == 0:
			return on, e.at
		}
	}
	return on, time.Time{}
}

// Given an opted-in Deployment whose gate (3s) is shorter than the sampler's tick
// (10s), when a release is being rolled back and the next, healthy one follows at once,
// then the healthy one is promoted: the evidence the sampler still holds has seen
// no request of the new revision, so it does not decide its first gates.
func TestContinuousJudgeAHealthyReleaseRightAfterARollbackIsPromoted(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := faultApp("web", "nginx") // interval 3s, threshold 1
	a.create(t, env.Kube, ns)

	release(t, env.Kube, ns, a.name, "example.com/web:broken", map[string]string{"sim.rolloutd.io/error-rate": "1"})
	releaseAtPhase(t, env.Kube, ns, a.name, contract.RollingBack, "example.com/web:v3", false)

	var st contract.Status
	framework.Eventually(t, 2*time.Minute, "the healthy release settled", func() (bool, error) {
		var done bool
		var err error
		st, done, err = settledFor(t.Context(), env.Kube, ns, a.name)
		return done, err
	})
	require.Equal(t, contract.Succeeded, st.Phase, "message: %s", st.Message)
}
