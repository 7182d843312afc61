//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

const batchTimeout = 4 * time.Minute

// batchApp is a 10-replica Deployment released in batches through its Service.
func batchApp(name string, kv ...string) app {
	ann := map[string]string{"rolloutd.io/strategy": "batch", "rolloutd.io/interval": "5s"}
	for i := 0; i+1 < len(kv); i += 2 {
		ann[kv[i]] = kv[i+1]
	}
	return app{name: name, replicas: 10, router: "service", rps: 200, annotations: ann}
}

// podSample is the pod count of both Deployments at one pod event.
type podSample struct {
	at                    time.Duration
	stable, canary, ready int
}

func (s podSample) total() int { return s.stable + s.canary }

// podCounter watches the pods of one app (stable and canary alike: router service
// keeps the app label on both) and samples the counts on every event. Terminating
// pods are not counted: they no longer serve and are not Ready for the Service.
type podCounter struct {
	mu      sync.Mutex
	start   time.Time
	pods    map[string]*corev1.Pod
	samples []podSample
}

func countPods(t *testing.T, kube kubernetes.Interface, ns, appName string) *podCounter {
	t.Helper()
	pc := &podCounter{start: time.Now(), pods: map[string]*corev1.Pod{}}
	onEvents(t, func(ctx context.Context) (watch.Interface, error) {
		return kube.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: "app=" + appName})
	}, pc.record)
	return pc
}

func (pc *podCounter) record(typ watch.EventType, p *corev1.Pod) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if typ == watch.Deleted || p.DeletionTimestamp != nil {
		delete(pc.pods, p.Name)
	} else {
		pc.pods[p.Name] = p
	}
	s := podSample{at: time.Since(pc.start)}
	for _, q := range pc.pods {
		if q.Labels["rolloutd.io/canary-of"] != "" {
			s.canary++
		} else {
			s.stable++
		}
		if podReady(q) {
			s.ready++
		}
	}
	pc.samples = append(pc.samples, s)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (pc *podCounter) snapshot() []podSample {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return append([]podSample(nil), pc.samples...)
}

// requireWithin checks every sample taken once the app was whole: at most
// desired+surge pods and at least desired-unavailable Ready ones.
func (pc *podCounter) requireWithin(t *testing.T, desired, surge, unavailable int) {
	t.Helper()
	pc.requireWithinUntil(t, func(podSample) bool { return false }, desired, surge, unavailable)
}

// requireWithinUntil is requireWithin over the samples up to the first one, once
// the app was whole, for which last is true.
func (pc *podCounter) requireWithinUntil(t *testing.T, last func(podSample) bool, desired, surge, unavailable int) {
	t.Helper()
	samples := pc.snapshot()
	require.NotEmpty(t, samples)
	whole := false
	maxTotal, minReady := 0, desired
	for _, s := range samples {
		if !whole {
			whole = s.ready >= desired
			if !whole {
				continue
			}
		}
		maxTotal, minReady = max(maxTotal, s.total()), min(minReady, s.ready)
		if last(s) {
			break
		}
	}
	require.True(t, whole, "the app was never whole")
	t.Logf("%d samples: at most %d pods, at least %d Ready (desired %d, surge %d, unavailable %d)",
		len(samples), maxTotal, minReady, desired, surge, unavailable)
	assert.LessOrEqual(t, maxTotal, desired+surge, "at most max-surge extra pods")
	assert.GreaterOrEqual(t, minReady, desired-unavailable, "never fewer than desired - max-unavailable Ready")
}

// trace renders the distinct successive (old, new, Ready) counts as table rows.
func (pc *podCounter) trace() string {
	var b strings.Builder
	var last podSample
	for i, s := range pc.snapshot() {
		if i > 0 && s.stable == last.stable && s.canary == last.canary && s.ready == last.ready {
			continue
		}
		fmt.Fprintf(&b, "| %5.1fs | %d | %d | %d | %d |\n", s.at.Seconds(), s.stable, s.canary, s.total(), s.ready)
		last = s
	}
	return b.String()
}

// batchSteps watches the status and records each batch whose pods were all in
// place as "step:canary pods".
func batchSteps(t *testing.T, kube kubernetes.Interface, ns, name string) func() []string {
	t.Helper()
	var mu sync.Mutex
	var out []string
	onEvents(t, func(ctx context.Context) (watch.Interface, error) {
		return kube.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	}, func(_ watch.EventType, d *appsv1.Deployment) {
		st, err := contract.Read(d.Annotations)
		if err != nil || st.Batch == nil {
			return
		}
		analysed := st.Phase == contract.Progressing && st.StepStartedAt != nil
		// The last batch leaves no old pods to compare with: it goes on to
		// the promotion without an analysis window.
		last := st.Phase == contract.Promoting && st.Batch.Stable == 0 && st.Batch.Canary == st.Batch.Desired
		if !analysed && !last {
			return
		}
		rec := fmt.Sprintf("%d:%d", st.Step, st.Batch.Canary)
		mu.Lock()
		if len(out) == 0 || out[len(out)-1] != rec {
			out = append(out, rec)
		}
		mu.Unlock()
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), out...)
	}
}

// requireHandedBack checks the end state: the user's Deployment at its desired
// count, all Ready, running image, and nothing generated left.
func requireHandedBack(t *testing.T, kube kubernetes.Interface, ns, name, image string) {
	t.Helper()
	framework.Eventually(t, time.Minute, fmt.Sprintf("%s back at 10 Ready pods of %s", name, image), func() (bool, error) {
		return runningImage(t, kube, ns, name) == image, nil
	})
	_, d := readStatus(t, kube, ns, name)
	assert.Equal(t, int32(10), *d.Spec.Replicas, "the desired count is handed back")
	assert.True(t, d.Spec.Paused)
	requireNoCanaryObjects(t, kube, ns, name)
}

func sendCommand(t *testing.T, kube kubernetes.Interface, ns, name, verb string) {
	t.Helper()
	cmd, err := json.Marshal(map[string]string{"verb": verb, "by": "e2e"})
	require.NoError(t, err)
	annotateDeployment(t, kube, ns, name, "rolloutd.io/command", string(cmd))
}

// Given 10 replicas released in batches 1,25%,50%,100% with max-surge 2, when a
// healthy version is released, then the batches complete in order, no sampled
// moment has more than 12 pods or fewer than 10 Ready, and the Deployment ends on
// the new version at 10 replicas with no canary.
func TestBatchCreateFirstReleaseStaysWithinLimits(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := batchApp("web", "rolloutd.io/batches", "1,25%,50%,100%", "rolloutd.io/max-surge", "2")
	a.create(t, env.Kube, ns)
	pods := countPods(t, env.Kube, ns, a.name)
	steps := batchSteps(t, env.Kube, ns, a.name)

	release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)

	requireEnds(t, env.Kube, ns, a.name, batchTimeout, contract.Succeeded)
	requireHandedBack(t, env.Kube, ns, a.name, "example.com/web:v2")
	assert.Equal(t, []string{"1:1", "2:3", "3:5", "4:10"}, steps(), "batches in order (batch:new pods)")
	pods.requireWithin(t, 10, 2, 0)
	t.Logf("pod trace (time, old, new, total, Ready):\n%s", pods.trace())
}

// Given delete-first with max-unavailable 2 and no surge, when a healthy version
// is released, then old pods go before new ones come: never more than 10 pods,
// never fewer than 8 Ready.
func TestBatchDeleteFirstNeverSurges(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := batchApp("tight", "rolloutd.io/batches", "50%,100%", "rolloutd.io/rolling-order", "delete-first",
		"rolloutd.io/max-unavailable", "2", "rolloutd.io/max-surge", "0")
	a.create(t, env.Kube, ns)
	pods := countPods(t, env.Kube, ns, a.name)

	release(t, env.Kube, ns, a.name, "example.com/tight:v2", nil)

	requireEnds(t, env.Kube, ns, a.name, batchTimeout, contract.Succeeded)
	requireHandedBack(t, env.Kube, ns, a.name, "example.com/tight:v2")
	pods.requireWithin(t, 10, 0, 2)
	below := false
	for _, s := range pods.snapshot() {
		below = below || (s.total() < 10 && s.canary > 0)
	}
	assert.True(t, below, "delete-first removed old pods before creating new ones")
}

// Given a batch release, when the new version serves 10% errors, then the first
// batch's gate fails, the batch is reversed within the same limits, and the
// Deployment is back on the old version at 10 replicas.
func TestBatchBadVersionFailsAtTheFirstBatchAndIsReversed(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := batchApp("cart", "rolloutd.io/batches", "1,25%,50%,100%", "rolloutd.io/max-surge", "2")
	a.create(t, env.Kube, ns)
	pods := countPods(t, env.Kube, ns, a.name)
	steps := batchSteps(t, env.Kube, ns, a.name)

	release(t, env.Kube, ns, a.name, "example.com/cart:bad", map[string]string{"sim.rolloutd.io/error-rate": "0.1"})

	st := requireEnds(t, env.Kube, ns, a.name, batchTimeout, contract.RolledBack)
	assert.Contains(t, st.Message, "error-rate")
	assert.Equal(t, []string{"1:1"}, steps(), "failed at the first batch")
	requireHandedBack(t, env.Kube, ns, a.name, "example.com/cart:v1")
	pods.requireWithin(t, 10, 2, 0)
	requireNotRetried(t, env, ns, a.name)
}

// Given a batch release, when the new version's pods never become Ready (kwok
// marks every scheduled pod Ready, readiness gates included, so the new version
// asks for a node that does not exist), then the batch is stopped at the progress
// deadline and reversed.
func TestBatchPodsNeverReadyAreStoppedAndReversed(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := batchApp("stuck", "rolloutd.io/max-surge", "2")
	a.create(t, env.Kube, ns)
	setProgressDeadline(t, env.Kube, ns, a.name, 15)
	pods := countPods(t, env.Kube, ns, a.name)

	patch := []byte(`{"spec":{"template":{"spec":{"nodeSelector":{"example.com/never":"true"},` +
		`"containers":[{"name":"web","image":"example.com/stuck:v2"}]}}}}`)
	_, err := env.Kube.AppsV1().Deployments(ns).Patch(context.Background(), a.name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)

	st := requireEnds(t, env.Kube, ns, a.name, batchTimeout, contract.RolledBack)
	assert.Contains(t, st.Message, "not Ready within 15s")
	requireHandedBack(t, env.Kube, ns, a.name, "example.com/stuck:v1")
	pods.requireWithin(t, 10, 2, 0)
}

func setProgressDeadline(t *testing.T, kube kubernetes.Interface, ns, name string, seconds int) {
	t.Helper()
	patch := []byte(fmt.Sprintf(`{"spec":{"progressDeadlineSeconds":%d}}`, seconds))
	_, err := kube.AppsV1().Deployments(ns).Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
}

// Given pause-at 1, when a healthy version is released, then the release waits
// after the first batch with its pods in place until promote, then completes.
func TestBatchPauseAtWaitsForPromote(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := batchApp("shop", "rolloutd.io/batches", "1,50%,100%", "rolloutd.io/pause-at", "1", "rolloutd.io/max-surge", "100%")
	a.create(t, env.Kube, ns)

	release(t, env.Kube, ns, a.name, "example.com/shop:v2", nil)

	st := waitPhase(t, env.Kube, ns, a.name, batchTimeout, contract.Paused, contract.RolledBack)
	require.Equal(t, contract.Paused, st.Phase, "message: %s", st.Message)
	assert.Equal(t, 1, st.Step)
	assert.Contains(t, st.Message, "rolloutctl promote shop")
	consistently(t, 10*time.Second, "the release waits for promote", func() error {
		st, d := readStatus(t, env.Kube, ns, a.name)
		if st.Phase != contract.Paused || st.Step != 1 || st.Batch == nil || st.Batch.Canary != 1 || *d.Spec.Replicas != 9 {
			return fmt.Errorf("phase %s step %d batch %+v replicas %d", st.Phase, st.Step, st.Batch, *d.Spec.Replicas)
		}
		return nil
	})

	sendCommand(t, env.Kube, ns, a.name, "promote")

	st = waitPhase(t, env.Kube, ns, a.name, batchTimeout, contract.Succeeded, contract.RolledBack)
	require.Equal(t, contract.Succeeded, st.Phase, "message: %s", st.Message)
	requireHandedBack(t, env.Kube, ns, a.name, "example.com/shop:v2")
}
