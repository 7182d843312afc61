//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/internal/status"
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
		var st status.Status
		err := framework.Poll(ctx, 4*time.Minute, func() (bool, error) {
			var done bool
			var err error
			st, done, err = settledFor(ctx, kube, ns, name)
			return done, err
		})
		if err != nil {
			return fmt.Errorf("%s %s did not settle: %w", name, image, err)
		}
		want := status.Succeeded
		if bad {
			want = status.RolledBack
		}
		if st.Phase != want {
			return fmt.Errorf("%s %s: %s, want %s (%s)", name, image, st.Phase, want, st.Message)
		}
	}
	return nil
}

// Given many opted-in Deployments releasing good and bad versions at once, when the
// daemon is SIGKILLed at random moments and restarted each time, then every good
// release is promoted, every bad one is rolled back, nothing unvetted reaches the
// stable pods and every invariant holds. CHAOS_DEPLOYMENTS × CHAOS_RELEASES rollouts
// (default 6 × 2; the 100 is CHAOS_DEPLOYMENTS=20 CHAOS_RELEASES=5).
func TestFaultDaemonKilledAtRandomMomentsConverges(t *testing.T) {
	t.Parallel()
	env := framework.Get(t)
	ns := env.Namespace(t)
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
	kills := killUntil(t, d, rng, done)

	t.Logf("%d rollouts, %d kills", nApps*nReleases, kills)
	require.NoError(t, errors.Join(errs...))
	requireInvariants(t, env.Kube, ns)
	for _, img := range sw.requireOnlyVetted(t) {
		assert.NotContains(t, img, "-bad", "a bad release reached the stable pods")
	}
	assert.Positive(t, kills, "the daemon was killed at least once")
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

// leaderEnv makes a daemon elect a leader on a Lease in ns with short timings.
func leaderEnv(ns string) map[string]string {
	return map[string]string{
		"ROLLOUTD_LEADER_ELECT":    "true",
		"ROLLOUTD_LEASE_NAMESPACE": ns,
		"ROLLOUTD_LEASE_DURATION":  leaseDuration.String(),
		"ROLLOUTD_RENEW_DEADLINE":  "3s",
		"ROLLOUTD_RETRY_PERIOD":    retryPeriod.String(),
	}
}

const (
	leaseDuration = 4 * time.Second
	retryPeriod   = time.Second
	jitteredRetry = retryPeriod * 22 / 10
)

// Given two daemons electing a leader, when the leader is SIGKILLed mid-rollout,
// then the other takes the Lease within the lease duration (plus two polls) and
// finishes the rollout, the standby never reconciled while the leader lived, and no
// status write happened between the kill and the takeover.
func TestFaultLeaderKilledMidRolloutStandbyTakesOver(t *testing.T) {
	t.Parallel()
	env := framework.Get(t)
	ns := env.Namespace(t)
	opts := framework.DaemonOptions{Namespaces: []string{ns}, Env: leaderEnv(ns)}
	first := env.StartDaemon(t, opts)
	lw := watchLease(t, env.Kube, ns, "rolloutd")
	leaderID := lw.waitHolder(t, "")
	standby := env.StartDaemon(t, opts)
	a := app{name: "web", replicas: 3, router: "nginx", rps: 200, annotations: map[string]string{
		"rolloutd.io/steps": "20,40,60", "rolloutd.io/interval": "4s", "rolloutd.io/checks": "error-rate<=1%+baseline"}}
	a.create(t, env.Kube, ns)
	sw := watchStable(t, env.Kube, ns)
	writes := watchStatusWrites(t, env.Kube, ns, a.name)

	release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)
	framework.Eventually(t, time.Minute, "canary at step 1 with traffic", func() (bool, error) {
		st, _ := readStatus(t, env.Kube, ns, a.name)
		return st.Phase == status.Progressing && st.Weight > 0, fmt.Errorf("%s weight %d", st.Phase, st.Weight)
	})
	require.Zero(t, reconciles(t, standby), "the standby reconciled while the leader held the Lease")
	require.Equal(t, leaderID, lw.holder(), "the first daemon still leads")
	first.Kill()
	killedAt := time.Now()

	newID := lw.waitHolder(t, leaderID)
	takeover := lw.changedAt(newID).Sub(killedAt)
	t.Logf("takeover %v after the kill (lease duration %v, retry period %v)", takeover.Round(time.Millisecond), leaseDuration, retryPeriod)
	// client-go's elector polls every retry period stretched by up to 2.2x
	// (jitter factor 1.2) and takes the Lease a lease duration after the last
	// renewal it saw, which it may see one poll after the kill.
	assert.LessOrEqual(t, takeover, leaseDuration+2*jitteredRetry+time.Second/2, "takeover within the lease duration")

	st := waitPhase(t, env.Kube, ns, a.name, rolloutTimeout, status.Succeeded, status.RolledBack)
	require.Equal(t, status.Succeeded, st.Phase, st.Message)
	requireInvariants(t, env.Kube, ns)
	sw.requireOnlyVetted(t)
	assert.Equal(t, []string{leaderID, newID}, lw.holders(), "the Lease changed hands exactly once")
	quiet := writes.between(killedAt.Add(500*time.Millisecond), lw.changedAt(newID))
	assert.Empty(t, quiet, "status writes while nobody held the Lease")
	assert.Positive(t, reconciles(t, standby), "the new leader reconciled")
}

// reconciles is the daemon's rolloutd_reconcile_duration_seconds sample count.
func reconciles(t *testing.T, d *framework.Daemon) float64 {
	return metricSum(t, d, "rolloutd_reconcile_duration_seconds_count")
}

// metricSum adds up every series of one metric on the daemon's /metrics.
func metricSum(t *testing.T, d *framework.Daemon, name string) float64 {
	t.Helper()
	resp, err := http.Get(d.URL() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	total := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			require.NoError(t, err, line)
			total += v
		}
	}
	return total
}

// leaseWatch polls a Lease and keeps every change of holder with its time.
type leaseWatch struct {
	mu      sync.Mutex
	changes []holderChange
}

type holderChange struct {
	id string
	at time.Time
}

func watchLease(t *testing.T, kube kubernetes.Interface, ns, name string) *leaseWatch {
	t.Helper()
	lw := &leaseWatch{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			l, err := kube.CoordinationV1().Leases(ns).Get(ctx, name, metav1.GetOptions{})
			if err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" {
				lw.observe(*l.Spec.HolderIdentity)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return lw
}

func (lw *leaseWatch) observe(id string) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if n := len(lw.changes); n == 0 || lw.changes[n-1].id != id {
		lw.changes = append(lw.changes, holderChange{id: id, at: time.Now()})
	}
}

func (lw *leaseWatch) holder() string {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if len(lw.changes) == 0 {
		return ""
	}
	return lw.changes[len(lw.changes)-1].id
}

func (lw *leaseWatch) holders() []string {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	var out []string
	for _, c := range lw.changes {
		out = append(out, c.id)
	}
	return out
}

func (lw *leaseWatch) changedAt(id string) time.Time {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	for _, c := range lw.changes {
		if c.id == id {
			return c.at
		}
	}
	return time.Time{}
}

// waitHolder waits for a holder other than not and returns it.
func (lw *leaseWatch) waitHolder(t *testing.T, not string) string {
	t.Helper()
	var id string
	framework.Eventually(t, 30*time.Second, "a Lease holder other than "+not, func() (bool, error) {
		id = lw.holder()
		return id != "" && id != not, fmt.Errorf("holder %q", id)
	})
	return id
}

// statusWrites records when each distinct status annotation of one Deployment was
// seen.
type statusWrites struct {
	mu   sync.Mutex
	seen []holderChange // id holds the raw status
}

func watchStatusWrites(t *testing.T, kube kubernetes.Interface, ns, name string) *statusWrites {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := kube.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	require.NoError(t, err)
	sw := &statusWrites{}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			d, ok := ev.Object.(*appsv1.Deployment)
			if !ok {
				continue
			}
			raw := d.Annotations[status.Key]
			sw.mu.Lock()
			if n := len(sw.seen); n == 0 || sw.seen[n-1].id != raw {
				sw.seen = append(sw.seen, holderChange{id: raw, at: time.Now()})
			}
			sw.mu.Unlock()
		}
	}()
	return sw
}

// between lists the statuses first seen in (from, to).
func (sw *statusWrites) between(from, to time.Time) []string {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	var out []string
	for _, s := range sw.seen {
		if s.at.After(from) && s.at.Before(to) {
			out = append(out, s.id)
		}
	}
	return out
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
			env := framework.Get(t)
			ns := env.Namespace(t)
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
