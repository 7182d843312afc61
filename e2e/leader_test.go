//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

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
	env, ns := namespaceScenario(t)
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
		return st.Phase == contract.Progressing && st.Weight > 0, fmt.Errorf("%s weight %d", st.Phase, st.Weight)
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

	requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded)
	requireInvariants(t, env.Kube, ns)
	sw.requireOnlyVetted(t)
	assert.Equal(t, []string{leaderID, newID}, lw.holders(), "the Lease changed hands exactly once")
	quiet := writes.between(killedAt.Add(500*time.Millisecond), lw.changedRV(newID))
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
	body, err := d.Metrics(t.Context())
	require.NoError(t, err)
	total := 0.0
	for _, line := range strings.Split(body, "\n") {
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
	// rv is the object's resourceVersion when the change was seen: the API
	// server's one clock, which orders writes to different objects.
	rv int64
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
				lw.observe(*l.Spec.HolderIdentity, resourceVersion(l.ResourceVersion))
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

func (lw *leaseWatch) observe(id string, rv int64) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if n := len(lw.changes); n == 0 || lw.changes[n-1].id != id {
		lw.changes = append(lw.changes, holderChange{id: id, at: time.Now(), rv: rv})
	}
}

// changedRV is the Lease's resourceVersion when id was first seen holding it.
func (lw *leaseWatch) changedRV(id string) int64 {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	for _, c := range lw.changes {
		if c.id == id {
			return c.rv
		}
	}
	return 0
}

func resourceVersion(rv string) int64 {
	n, _ := strconv.ParseInt(rv, 10, 64)
	return n
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
	return collect(lw.changes, func(c holderChange) string { return c.id })
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
	sw := &statusWrites{}
	onEvents(t, func(ctx context.Context) (watch.Interface, error) {
		return kube.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	}, func(_ watch.EventType, d *appsv1.Deployment) {
		raw := d.Annotations[contract.StatusKey]
		sw.mu.Lock()
		if n := len(sw.seen); n == 0 || sw.seen[n-1].id != raw {
			sw.seen = append(sw.seen, holderChange{id: raw, at: time.Now(), rv: resourceVersion(d.ResourceVersion)})
		}
		sw.mu.Unlock()
	})
	return sw
}

// between lists the statuses first seen after from and written before the API
// server's resourceVersion to (the watches of two objects deliver in no common
// order, their resourceVersions do).
func (sw *statusWrites) between(from time.Time, to int64) []string {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	var out []string
	for _, s := range sw.seen {
		if s.at.After(from) && s.rv < to {
			out = append(out, s.id)
		}
	}
	return out
}
