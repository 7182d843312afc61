//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// namespaceScenario is the start of a scenario that runs its own daemons:
// the sandbox and a fresh namespace.
func namespaceScenario(t *testing.T) (*framework.Env, string) {
	t.Helper()
	env := framework.Get(t)
	return env, env.Namespace(t)
}

// watchedScenario is the start of most scenarios: the sandbox, and a fresh
// namespace watched by a daemon of the default settings.
func watchedScenario(t *testing.T) (*framework.Env, string) {
	t.Helper()
	env := framework.Get(t)
	return env, env.WatchedNamespace(t)
}

// app describes the demo application a scenario releases.
type app struct {
	name        string
	replicas    int32
	router      string // nginx or service
	rps         int
	annotations map[string]string // extra rolloutd.io annotations
	podAnn      map[string]string // pod template annotations of every version (sim behaviour)
}

func (a app) labels() map[string]string { return a.sim().Labels() }

// sim is the app as the framework makes it: container web running
// example.com/<name>:v1 on port 8080, an Ingress of class nginx for router nginx.
func (a app) sim() framework.App {
	ann := map[string]string{
		"rolloutd.io/enabled":  "true",
		"rolloutd.io/router":   a.router,
		"rolloutd.io/steps":    "10,20,30,40,50",
		"rolloutd.io/interval": "5s",
	}
	for k, v := range a.annotations {
		ann[k] = v
	}
	return framework.App{Name: a.name, Replicas: a.replicas, Container: "web", Image: "example.com/" + a.name + ":v1", Port: 8080,
		Annotations: ann, PodAnnotations: a.podAnn, RPS: a.rps, Ingress: a.router == "nginx", IngressClass: "nginx"}
}

// create makes the user's Deployment, Service and (router nginx) Ingress, waits until
// the Deployment is Ready and rolloutd has taken it over (Idle status, paused).
func (a app) create(t *testing.T, kube kubernetes.Interface, ns string, edits ...func(*appsv1.Deployment)) {
	t.Helper()
	ctx := context.Background()
	replicas := a.replicas
	require.NoError(t, a.sim().Create(ctx, kube, ns, edits...))
	framework.Eventually(t, time.Minute, a.name+" Ready and taken over by rolloutd", func() (bool, error) {
		d, err := kube.AppsV1().Deployments(ns).Get(ctx, a.name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st, err := contract.Read(d.Annotations)
		if err != nil {
			return false, err
		}
		return d.Status.ReadyReplicas == replicas && d.Spec.Paused && st.Phase == contract.Idle, nil
	})
}

// createService makes the app's Service, selecting its pods.
func (a app) createService(t *testing.T, kube kubernetes.Interface, ns string) {
	t.Helper()
	_, err := kube.CoreV1().Services(ns).Create(context.Background(), a.sim().Service(ns), metav1.CreateOptions{})
	require.NoError(t, err)
}

// deployment is the app's opted-in Deployment, not yet created.
func (a app) deployment(ns string) *appsv1.Deployment { return a.sim().Deployment(ns) }

func (a app) createIngress(t *testing.T, kube kubernetes.Interface, ns string) {
	t.Helper()
	require.NoError(t, a.sim().CreateIngress(context.Background(), kube, ns))
}

// annotateDeployment sets one annotation on a Deployment with a merge patch:
// rolloutd writes its status annotation on the same object at any instant, so
// a read-modify-write Update can conflict with it.
func annotateDeployment(t *testing.T, kube kubernetes.Interface, ns, name, key, value string) {
	t.Helper()
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{key: value}}})
	require.NoError(t, err)
	_, err = kube.AppsV1().Deployments(ns).Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)
}

// release changes the pod template: a new image and the given pod annotations
// (the simulator's behaviour of the new version).
func release(t *testing.T, kube kubernetes.Interface, ns, name, image string, podAnn map[string]string) {
	t.Helper()
	b, err := framework.ReleasePatch("web", image, podAnn)
	require.NoError(t, err)
	_, err = kube.AppsV1().Deployments(ns).Patch(context.Background(), name, types.StrategicMergePatchType, b, metav1.PatchOptions{})
	require.NoError(t, err)
}

func readStatus(t *testing.T, kube kubernetes.Interface, ns, name string) (contract.Status, *appsv1.Deployment) {
	t.Helper()
	d, err := kube.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	st, err := contract.Read(d.Annotations)
	require.NoError(t, err)
	return st, d
}

// waitPhase waits until the rollout of name reaches one of phases.
func waitPhase(t *testing.T, kube kubernetes.Interface, ns, name string, timeout time.Duration, phases ...contract.Phase) contract.Status {
	t.Helper()
	var st contract.Status
	framework.Eventually(t, timeout, fmt.Sprintf("%s in phase %v", name, phases), func() (bool, error) {
		d, err := kube.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if st, err = contract.Read(d.Annotations); err != nil {
			return false, err
		}
		for _, p := range phases {
			if st.Phase == p {
				return true, nil
			}
		}
		return false, fmt.Errorf("phase %s: %s", st.Phase, st.Message)
	})
	return st
}

// requireEnds waits until the release of name has ended and requires that it
// ended in want (Succeeded or RolledBack), showing the status message if not.
func requireEnds(t *testing.T, kube kubernetes.Interface, ns, name string, timeout time.Duration, want contract.Phase) contract.Status {
	t.Helper()
	other := contract.RolledBack
	if want == contract.RolledBack {
		other = contract.Succeeded
	}
	st := waitPhase(t, kube, ns, name, timeout, want, other)
	require.Equal(t, want, st.Phase, "message: %s", st.Message)
	return st
}

// consistently checks cond at every tick for d and fails at the first false.
func consistently(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(d)
	for {
		require.NoError(t, cond(), what)
		select {
		case <-deadline:
			return
		case <-tick.C:
		}
	}
}

// requireNoCanaryObjects checks that nothing generated for name is left.
func requireNoCanaryObjects(t *testing.T, kube kubernetes.Interface, ns, name string) {
	t.Helper()
	ctx := context.Background()
	framework.Eventually(t, 30*time.Second, "no -canary objects left", func() (bool, error) {
		if _, err := kube.AppsV1().Deployments(ns).Get(ctx, name+"-canary", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("canary deployment still there (%v)", err)
		}
		if _, err := kube.CoreV1().Services(ns).Get(ctx, name+"-canary", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("canary service still there (%v)", err)
		}
		if _, err := kube.NetworkingV1().Ingresses(ns).Get(ctx, name+"-canary", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("canary ingress still there (%v)", err)
		}
		return true, nil
	})
}

// record is one change of a generated object, ordered by resourceVersion.
type record struct {
	rv     int64
	kind   string // "ingress" or "canary"
	weight int    // ingress: canary weight, -1 when deleted
	pods   int32  // canary: spec.replicas, -1 when deleted
}

// timeline watches the canary Ingress and the canary Deployment of one app and
// keeps every change in resourceVersion order, so a scenario can check the order in
// which rolloutd moved traffic and pods.
type timeline struct {
	mu   sync.Mutex
	recs []record
}

func watchTimeline(t *testing.T, kube kubernetes.Interface, ns, name string) *timeline {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	tl := &timeline{}
	sel := metav1.ListOptions{FieldSelector: "metadata.name=" + name + "-canary"}
	iw, err := kube.NetworkingV1().Ingresses(ns).Watch(ctx, sel)
	require.NoError(t, err)
	dw, err := kube.AppsV1().Deployments(ns).Watch(ctx, sel)
	require.NoError(t, err)
	go tl.consume(ctx, iw, func(ev watch.Event) record {
		ing := ev.Object.(*networkingv1.Ingress)
		w, _ := strconv.Atoi(ing.Annotations["nginx.ingress.kubernetes.io/canary-weight"])
		if ev.Type == watch.Deleted {
			w = -1
		}
		return record{rv: rv(ing.ResourceVersion), kind: "ingress", weight: w}
	})
	go tl.consume(ctx, dw, func(ev watch.Event) record {
		d := ev.Object.(*appsv1.Deployment)
		n := int32(-1)
		if ev.Type != watch.Deleted && d.Spec.Replicas != nil {
			n = *d.Spec.Replicas
		}
		return record{rv: rv(d.ResourceVersion), kind: "canary", pods: n}
	})
	return tl
}

// onEvents starts a watch with start and, on its own goroutine until the test
// ends, hands every event whose object is a T to handle.
func onEvents[T any](t *testing.T, start func(context.Context) (watch.Interface, error), handle func(watch.EventType, T)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := start(ctx)
	require.NoError(t, err)
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if obj, ok := ev.Object.(T); ok {
				handle(ev.Type, obj)
			}
		}
	}()
}

func rv(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

func (tl *timeline) consume(ctx context.Context, w watch.Interface, conv func(watch.Event) record) {
	consumeEvents(ctx, w, func(ev watch.Event) {
		if ev.Type == watch.Added || ev.Type == watch.Modified || ev.Type == watch.Deleted {
			tl.mu.Lock()
			tl.recs = append(tl.recs, conv(ev))
			tl.mu.Unlock()
		}
	}, nil)
}

// consumeEvents hands every event of w to handle until ctx ends or the watch
// closes, which calls closed (when set) first.
func consumeEvents(ctx context.Context, w watch.Interface, handle func(watch.Event), closed func()) {
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.ResultChan():
			if !ok {
				if closed != nil {
					closed()
				}
				return
			}
			handle(ev)
		}
	}
}

// collect is f of each item, nil for none.
func collect[T, U any](items []T, f func(T) U) []U {
	var out []U
	for _, it := range items {
		out = append(out, f(it))
	}
	return out
}

func (tl *timeline) snapshot() []record {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	out := append([]record(nil), tl.recs...)
	sort.Slice(out, func(i, j int) bool { return out[i].rv < out[j].rv })
	return out
}

// weights lists the distinct successive canary weights the Ingress carried.
func (tl *timeline) weights() []int {
	var out []int
	for _, r := range tl.snapshot() {
		if r.kind == "ingress" && (len(out) == 0 || out[len(out)-1] != r.weight) {
			out = append(out, r.weight)
		}
	}
	return out
}

// stablePods lists the names of the pods of the stable Deployment (not the canary).
func stablePods(t *testing.T, kube kubernetes.Interface, ns, appName string) []string {
	t.Helper()
	pods, err := kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + appName})
	require.NoError(t, err)
	var names []string
	for _, p := range pods.Items {
		if p.Labels["rolloutd.io/canary-of"] == "" && p.DeletionTimestamp == nil {
			names = append(names, p.Name)
		}
	}
	sort.Strings(names)
	return names
}

// runningImage is the image of the Deployment's newest ReplicaSet once it is fully
// rolled out ("" before).
func runningImage(t *testing.T, kube kubernetes.Interface, ns, name string) string {
	t.Helper()
	d, err := kube.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	sets, err := kube.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
	require.NoError(t, err)
	var best *appsv1.ReplicaSet
	for i := range sets.Items {
		rs := &sets.Items[i]
		if !metav1.IsControlledBy(rs, d) {
			continue
		}
		if best == nil || rv(rs.Annotations["deployment.kubernetes.io/revision"]) > rv(best.Annotations["deployment.kubernetes.io/revision"]) {
			best = rs
		}
	}
	if best == nil || best.Status.ReadyReplicas != *d.Spec.Replicas {
		return ""
	}
	return best.Spec.Template.Spec.Containers[0].Image
}
