//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Fault scenarios share these settings: short steps so that many rollouts fit in
// a few minutes, and one request check so that Prometheus is not the bottleneck.
var faultAnnotations = map[string]string{
	"rolloutd.io/steps":     "20,50",
	"rolloutd.io/interval":  "3s",
	"rolloutd.io/threshold": "1",
	"rolloutd.io/checks":    "error-rate<=1%+baseline",
}

// badErrorRate is the simulated error rate of a bad release.
const badErrorRate = "0.3"

// chaosInt reads a positive integer test setting, or def.
func chaosInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	require.Positive(t, n, name)
	return n
}

// chaosSeed reads CHAOS_SEED or picks one, and prints it so a failure replays.
func chaosSeed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		var err error
		s, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "CHAOS_SEED")
	}
	t.Logf("seed %d (replay with CHAOS_SEED=%d)", s, s)
	return s
}

// releasePatch changes name's image and simulated error rate; unlike release it
// returns the error, so it can run outside the test goroutine.
func releasePatch(ctx context.Context, kube kubernetes.Interface, ns, name, image string, bad bool) error {
	rate := "0"
	if bad {
		rate = badErrorRate
	}
	patch := map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{"sim.rolloutd.io/error-rate": rate}},
		"spec":     map[string]any{"containers": []map[string]any{{"name": "web", "image": image}}},
	}}}
	b, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	_, err = kube.AppsV1().Deployments(ns).Patch(ctx, name, types.StrategicMergePatchType, b, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("release %s %s: %w", name, image, err)
	}
	return nil
}

// createApps creates every app in parallel and waits until rolloutd holds each.
func createApps(t *testing.T, kube kubernetes.Interface, ns string, apps []app) {
	t.Helper()
	t.Run("create", func(t *testing.T) {
		for _, a := range apps {
			t.Run(a.name, func(t *testing.T) {
				t.Parallel()
				a.create(t, kube, ns)
			})
		}
	})
	if t.Failed() {
		t.FailNow()
	}
}

func faultApp(name, router string) app {
	return app{name: name, replicas: 2, router: router, rps: 100, annotations: faultAnnotations}
}

// runReleases releases plan[i] (true = bad) in order for app name, waiting for each
// to settle and checking its outcome: bad ones are rolled back, good ones promoted.
func runReleases(ctx context.Context, kube kubernetes.Interface, ns, name string, plan []bool) error {
	for r, bad := range plan {
		image := fmt.Sprintf("example.com/%s:r%d", name, r+1)
		if bad {
			image += "-bad"
		}
		if err := releasePatch(ctx, kube, ns, name, image, bad); err != nil {
			return err
		}
		var st contract.Status
		err := framework.Poll(ctx, 4*time.Minute, func() (bool, error) {
			var done bool
			var err error
			st, done, err = settledFor(ctx, kube, ns, name)
			return done, err
		})
		if err != nil {
			return fmt.Errorf("%s %s did not settle: %w", name, image, err)
		}
		want := contract.Succeeded
		if bad {
			want = contract.RolledBack
		}
		if st.Phase != want {
			return fmt.Errorf("%s %s: %s, want %s (%s)", name, image, st.Phase, want, st.Message)
		}
	}
	return nil
}

// Given many opted-in Deployments releasing good and bad versions at once, when the
// daemon is SIGKILLed at random moments and restarted each time while generated
// objects are edited and deleted (vandalUntil), then every good
// release is promoted, every bad one is rolled back, nothing unvetted reaches the
// stable pods and every invariant holds. CHAOS_DEPLOYMENTS × CHAOS_RELEASES rollouts
// (default 6 × 2; the 100 is CHAOS_DEPLOYMENTS=20 CHAOS_RELEASES=5).
func TestFaultDaemonKilledAtRandomMomentsConverges(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	rng := rand.New(rand.NewPCG(chaosSeed(t), 12))
	nApps := chaosInt(t, "CHAOS_DEPLOYMENTS", 6)
	nReleases := chaosInt(t, "CHAOS_RELEASES", 2)
	d := env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns}})
	apps := make([]app, nApps)
	plans := make([][]bool, nApps)
	for i := range apps {
		router := "service"
		if i%2 == 0 {
			router = "nginx"
		}
		apps[i] = faultApp(fmt.Sprintf("k%d", i), router)
		for range nReleases {
			plans[i] = append(plans[i], rng.IntN(3) == 0)
		}
	}
	createApps(t, env.Kube, ns, apps)
	sw := watchStable(t, env.Kube, ns)

	errs := make([]error, nApps)
	var wg sync.WaitGroup
	for i, a := range apps {
		wg.Go(func() { errs[i] = runReleases(t.Context(), env.Kube, ns, a.name, plans[i]) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	vandalised := make(chan int, 1)
	vrng := rand.New(rand.NewPCG(rng.Uint64(), 13))
	go func() { vandalised <- vandalUntil(t.Context(), env.Kube, ns, apps, vrng, done) }()
	kills := killUntil(t, d, rng, done)

	t.Logf("%d rollouts, %d kills, %d edits or deletions of generated objects", nApps*nReleases, kills, <-vandalised)
	require.NoError(t, errors.Join(errs...))
	requireInvariants(t, env.Kube, ns)
	for _, img := range sw.requireOnlyVetted(t) {
		assert.NotContains(t, img, "-bad", "a bad release reached the stable pods")
	}
	assert.Positive(t, kills, "the daemon was killed at least once")
}

// vandalUntil edits or deletes an object rolloutd generated, for a random app, at
// random moments until done is closed, and returns how many it changed: the
// canary Ingress deleted or its weight zeroed (router nginx), the canary Service
// deleted or the canary's image changed (router service). None of these can make
// a good release look bad (no request fails: the canary only loses its share for
// a moment), so every outcome must still be right once rolloutd repaired them.
func vandalUntil(ctx context.Context, kube kubernetes.Interface, ns string, apps []app, rng *rand.Rand, done <-chan struct{}) int {
	n := 0
	for {
		select {
		case <-done:
			return n
		case <-time.After(time.Duration(500+rng.IntN(3000)) * time.Millisecond):
		}
		a := apps[rng.IntN(len(apps))]
		canary := a.name + "-canary"
		var err error
		switch op := rng.IntN(2); {
		case a.router == "nginx" && op == 0:
			err = kube.NetworkingV1().Ingresses(ns).Delete(ctx, canary, metav1.DeleteOptions{})
		case a.router == "nginx":
			err = setIngressAnnotation(ctx, kube, ns, canary, "nginx.ingress.kubernetes.io/canary-weight", "0")
		case op == 0:
			err = kube.CoreV1().Services(ns).Delete(ctx, canary, metav1.DeleteOptions{})
		default:
			err = setCanaryImage(ctx, kube, ns, canary, "example.com/"+a.name+":vandalised")
		}
		if err == nil {
			n++
		}
	}
}

func setIngressAnnotation(ctx context.Context, kube kubernetes.Interface, ns, name, key, value string) error {
	ing, err := kube.NetworkingV1().Ingresses(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	ing.Annotations[key] = value
	_, err = kube.NetworkingV1().Ingresses(ns).Update(ctx, ing, metav1.UpdateOptions{})
	return err
}

func setCanaryImage(ctx context.Context, kube kubernetes.Interface, ns, name, image string) error {
	c, err := kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	c.Spec.Template.Spec.Containers[0].Image = image
	_, err = kube.AppsV1().Deployments(ns).Update(ctx, c, metav1.UpdateOptions{})
	return err
}

// killUntil SIGKILLs and restarts d at random moments until done is closed and
// returns the number of kills. The pauses are the fault's timing, drawn from rng.
func killUntil(t *testing.T, d *framework.Daemon, rng *rand.Rand, done <-chan struct{}) int {
	t.Helper()
	kills := 0
	for {
		up := time.Duration(200+rng.IntN(4800)) * time.Millisecond
		select {
		case <-done:
			return kills
		case <-time.After(up):
		}
		d.Kill()
		kills++
		down := time.Duration(rng.IntN(1000)) * time.Millisecond
		select {
		case <-done:
		case <-time.After(down):
		}
		d.Restart()
	}
}

// Given opted-in Deployments, when the daemon's API client is throttled to 2
// requests per second, or a user keeps editing an unrelated annotation of the
// Deployment during the rollout (so the daemon's updates hit 409 conflicts), then a
// good release is still promoted and a bad one rolled back.
func TestFaultAPIPressureConverges(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		env    map[string]string
		editor bool
	}{
		{name: "client throttled to 2 QPS", env: map[string]string{"ROLLOUTD_KUBE_QPS": "2", "ROLLOUTD_KUBE_BURST": "2"}},
		{name: "conflicting edits of the Deployment", editor: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, ns := namespaceScenario(t)
			d := env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns}, Env: tc.env})
			apps := []app{faultApp("good", "nginx"), faultApp("bad", "service")}
			createApps(t, env.Kube, ns, apps)
			sw := watchStable(t, env.Kube, ns)
			var edits *int64
			if tc.editor {
				edits = keepEditing(t, env.Kube, ns, "good", "bad")
			}

			errs := make([]error, len(apps))
			var wg sync.WaitGroup
			for i, a := range apps {
				wg.Go(func() { errs[i] = runReleases(t.Context(), env.Kube, ns, a.name, []bool{a.name == "bad"}) })
			}
			wg.Wait()
			require.NoError(t, errors.Join(errs...))
			if edits != nil {
				t.Logf("%d user edits, daemon reconcile errors (conflicts): %v", atomic.LoadInt64(edits), reconcileErrors(t, d))
			}
			requireInvariants(t, env.Kube, ns)
			sw.requireOnlyVetted(t)
		})
	}
}

// keepEditing updates an unrelated annotation of each named Deployment as fast as
// the API server answers until the test ends; it returns the count of edits made.
func keepEditing(t *testing.T, kube kubernetes.Interface, ns string, names ...string) *int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var n int64
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, name := range names {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				d, err := kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					continue
				}
				d.Annotations["e2e.rolloutd.io/touched"] = strconv.Itoa(i)
				if _, err := kube.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}); err == nil {
					atomic.AddInt64(&n, 1)
				}
			}
		})
	}
	return &n
}

// reconcileErrors is the daemon's rolloutd_reconcile_errors_total, summed.
func reconcileErrors(t *testing.T, d *framework.Daemon) float64 {
	return metricSum(t, d, "rolloutd_reconcile_errors_total")
}
