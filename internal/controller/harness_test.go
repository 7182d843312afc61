package controller

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	testclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/internal/metrics"
	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

const (
	ns  = "shop"
	key = ns + "/web"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeEvaluator returns a fixed verdict and records the gates it judged.
type fakeEvaluator struct {
	mu      sync.Mutex
	verdict contract.Verdict
	targets []analysis.Target
	checks  [][]string // the names of each gate's checks
}

func (f *fakeEvaluator) Evaluate(_ context.Context, t analysis.Target, checks []contract.Check) analysis.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.targets = append(f.targets, t)
	names := []string{}
	for _, c := range checks {
		names = append(names, c.Name())
	}
	f.checks = append(f.checks, names)
	var res []contract.CheckResult
	for _, c := range checks {
		res = append(res, contract.CheckResult{Name: c.Name(), Verdict: f.verdict, Reason: "fake " + string(f.verdict)})
	}
	return analysis.Combine(res)
}

func (f *fakeEvaluator) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.targets)
}

// harness is a controller on a fake clientset with running informers. Sync is
// called directly; workers are never started.
type harness struct {
	t     *testing.T
	ctx   context.Context
	kube  *fake.Clientset
	inf   *Informers
	ctl   *Controller
	rec   *record.FakeRecorder
	clock *testclock.FakePassiveClock
	eval  *fakeEvaluator
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	kube := fake.NewClientset(objs...)
	// Objects written before the informers' watches exist would be missed by the
	// fake tracker, so count the watches and wait for them before any write.
	var watching sync.WaitGroup
	kube.PrependWatchReactor("*", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w, err := kube.Tracker().Watch(a.GetResource(), a.GetNamespace())
		if err != nil {
			return false, nil, err
		}
		watching.Done()
		return true, w, nil
	})
	// The tracker keeps no resourceVersions; the API server's are what tells a
	// reconcile that a cached object changed, so give every write one.
	var version atomic.Int64
	for _, verb := range []string{"create", "update"} {
		kube.PrependReactor(verb, "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if o, ok := a.(k8stesting.CreateAction); ok {
				if m, err := meta.Accessor(o.GetObject()); err == nil {
					m.SetResourceVersion(strconv.FormatInt(version.Add(1), 10))
				}
			}
			return false, nil, nil
		})
	}
	inf, err := NewInformers(kube, nil, 0)
	require.NoError(t, err)
	watching.Add(len(inf.synced)) // one watch per informer, all namespaces
	h := &harness{
		t: t, ctx: ctx, kube: kube, inf: inf,
		rec:   record.NewFakeRecorder(100),
		clock: testclock.NewFakePassiveClock(t0),
		eval:  &fakeEvaluator{verdict: contract.Pass},
	}
	h.ctl, err = New(Options{
		Kube:      kube,
		Informers: inf,
		Analyzer:  h.eval,
		Routers: map[contract.Router]router.Router{
			contract.RouterService: router.Service{},
			contract.RouterNginx:   router.Nginx{Client: kube},
		},
		Recorder:     h.rec,
		Metrics:      metrics.New(prometheus.NewRegistry(), func() int { return 0 }),
		Clock:        h.clock,
		Log:          zap.NewNop(),
		ReadyTimeout: 10 * time.Minute,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		h.ctl.queue.ShutDown()
		cancel()
	})
	inf.Start(ctx)
	require.True(t, inf.WaitForSync(ctx))
	watching.Wait()
	return h
}

// userObjects is a 4-replica Deployment "web" running image web:1 through its
// ReplicaSet, its Service and Ingress; ann are the Deployment's annotations.
func userObjects(ann map[string]string) []runtime.Object {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, UID: types.UID("uid-web"), Generation: 1,
			Annotations: ann},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](4),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "track": "main"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}},
			},
		},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 4, UpdatedReplicas: 4, ReadyReplicas: 4, AvailableReplicas: 4},
	}
	rs := ownedReplicaSet(d, "5f7c9", "uid-rs1", "1")
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("nginx"),
			Rules: []networkingv1.IngressRule{{Host: "shop.example", IngressRuleValue: networkingv1.IngressRuleValue{
				HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: &prefix,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}},
				}}},
			}}},
		},
	}
	return []runtime.Object{d, rs, svc, ing}
}

// ownedReplicaSet is d's ReplicaSet web-<hash> of revision, as the Deployment
// controller makes it: d's template with the pod-template-hash label, 4 pods
// Ready.
func ownedReplicaSet(d *appsv1.Deployment, hash string, uid types.UID, revision string) *appsv1.ReplicaSet {
	tmpl := *d.Spec.Template.DeepCopy()
	tmpl.Labels["pod-template-hash"] = hash
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-" + hash, Namespace: ns, UID: uid,
			Annotations:     map[string]string{workload.RevisionNumberAnnotation: revision},
			OwnerReferences: []metav1.OwnerReference{workload.OwnerRef(d)}},
		Spec:   appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](4), Template: tmpl},
		Status: appsv1.ReplicaSetStatus{Replicas: 4, ReadyReplicas: 4},
	}
}

// adoptAsRevision3 does what the Deployment controller does when a rollback
// reuses the first revision's ReplicaSet: it becomes revision 3, scaled to 4.
func (h *harness) adoptAsRevision3() {
	h.t.Helper()
	rs, err := h.kube.AppsV1().ReplicaSets(ns).Get(h.ctx, "web-5f7c9", metav1.GetOptions{})
	require.NoError(h.t, err)
	rs.Annotations[workload.RevisionNumberAnnotation] = "3"
	rs.Spec.Replicas = ptr.To[int32](4)
	_, err = h.kube.AppsV1().ReplicaSets(ns).Update(h.ctx, rs, metav1.UpdateOptions{})
	require.NoError(h.t, err)
}

func optedIn(kv ...string) map[string]string {
	ann := map[string]string{contract.KeyEnabled: "true"}
	for i := 0; i+1 < len(kv); i += 2 {
		ann[kv[i]] = kv[i+1]
	}
	return ann
}

var (
	deploymentsGVR = appsv1.SchemeGroupVersion.WithResource("deployments")
	replicaSetsGVR = appsv1.SchemeGroupVersion.WithResource("replicasets")
	servicesGVR    = corev1.SchemeGroupVersion.WithResource("services")
	ingressesGVR   = networkingv1.SchemeGroupVersion.WithResource("ingresses")
)

// settle waits until the informer caches hold what the API holds.
func (h *harness) settle() {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		obj, err := h.kube.Tracker().List(deploymentsGVR, appsv1.SchemeGroupVersion.WithKind("Deployment"), "")
		if err != nil {
			return false
		}
		want := obj.(*appsv1.DeploymentList).Items
		if len(h.inf.deployments[metav1.NamespaceAll].List()) != len(want) {
			return false
		}
		for i := range want {
			c, err := h.inf.Deployment(want[i].Namespace, want[i].Name)
			if err != nil {
				return false
			}
			// Deployments rolloutd does not manage are cached as their identity.
			unmanaged := !hasRolloutdAnnotations(&want[i]) && want[i].Labels[contract.CanaryOfLabel] == ""
			if unmanaged && c.ResourceVersion != want[i].ResourceVersion || !unmanaged && !sameDeployment(&want[i], c) {
				return false
			}
		}
		obj, err = h.kube.Tracker().List(replicaSetsGVR, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), "")
		if err != nil {
			return false
		}
		var sets []*appsv1.ReplicaSet
		for _, o := range h.inf.sets[metav1.NamespaceAll].List() {
			sets = append(sets, o.(*appsv1.ReplicaSet))
		}
		return sameReplicaSets(obj.(*appsv1.ReplicaSetList).Items, sets) &&
			h.sameKeys(servicesGVR, "Service", objects(h.inf.services[metav1.NamespaceAll].List(labels.Everything()))) &&
			h.sameKeys(ingressesGVR, "Ingress", objects(h.inf.ingresses[metav1.NamespaceAll].List(labels.Everything())))
	}, 5*time.Second, time.Millisecond, "informer caches did not catch up")
}

// sameKeys reports whether a cache holds the objects of a resource the API holds,
// at the same resourceVersions.
func (h *harness) sameKeys(gvr schema.GroupVersionResource, kind string, cached []metav1.Object) bool {
	obj, err := h.kube.Tracker().List(gvr, gvr.GroupVersion().WithKind(kind), "")
	if err != nil {
		return false
	}
	items, err := meta.ExtractList(obj)
	if err != nil {
		return false
	}
	if cached == nil || len(cached) != len(items) {
		return false
	}
	have := map[string]string{}
	for _, o := range cached {
		have[o.GetNamespace()+"/"+o.GetName()] = o.GetResourceVersion()
	}
	for _, item := range items {
		o, err := meta.Accessor(item)
		if err != nil || have[o.GetNamespace()+"/"+o.GetName()] != o.GetResourceVersion() {
			return false
		}
	}
	return true
}

// objects turns a lister's answer into objects (nil on error).
func objects[T metav1.Object](list []T, err error) []metav1.Object {
	if err != nil {
		return nil
	}
	out := make([]metav1.Object, 0, len(list))
	for _, o := range list {
		out = append(out, o)
	}
	return out
}

// sameReplicaSets reports whether the cache holds every ReplicaSet with the
// revision number and size the API holds (the cache keeps no template).
func sameReplicaSets(want []appsv1.ReplicaSet, have []*appsv1.ReplicaSet) bool {
	if len(want) != len(have) {
		return false
	}
	cached := map[string]*appsv1.ReplicaSet{}
	for _, rs := range have {
		cached[rs.Name] = rs
	}
	for i := range want {
		c, ok := cached[want[i].Name]
		if !ok || workload.RevisionNumber(c) != workload.RevisionNumber(&want[i]) ||
			!equality.Semantic.DeepEqual(c.Spec.Replicas, want[i].Spec.Replicas) {
			return false
		}
	}
	return true
}

func sameDeployment(a, b *appsv1.Deployment) bool {
	return equality.Semantic.DeepEqual(a.Annotations, b.Annotations) && equality.Semantic.DeepEqual(a.Labels, b.Labels) &&
		equality.Semantic.DeepEqual(a.Spec, b.Spec) && equality.Semantic.DeepEqual(a.Status, b.Status)
}

// sync settles the caches, forgets earlier actions and reconciles web once.
func (h *harness) sync() time.Duration {
	h.t.Helper()
	h.settle()
	h.kube.ClearActions()
	requeue, err := h.ctl.Sync(h.ctx, key)
	require.NoError(h.t, err)
	return requeue
}

// write is one mutating API call.
type write struct {
	verb, resource, subresource, name string
	obj                               runtime.Object
}

func (w write) String() string { return w.verb + " " + w.resource + "/" + w.name }

// writes lists the mutating calls since the last sync, in order.
func (h *harness) writes() []write {
	var out []write
	for _, a := range h.kube.Actions() {
		w := write{verb: a.GetVerb(), resource: a.GetResource().Resource, subresource: a.GetSubresource()}
		switch act := a.(type) {
		case k8stesting.CreateAction: // also matches updates: both carry the object
			w.obj = act.GetObject()
		case k8stesting.DeleteAction:
			w.name = act.GetName()
		case k8stesting.PatchAction:
			w.name = act.GetName()
		default:
			continue
		}
		if w.obj != nil {
			if m, err := meta.Accessor(w.obj); err == nil {
				w.name = m.GetName()
			}
		}
		out = append(out, w)
	}
	return out
}

func (h *harness) writeNames() []string {
	var out []string
	for _, w := range h.writes() {
		out = append(out, w.String())
	}
	return out
}

// changes lists the creates, updates and patches since the last sync.
func (h *harness) changes() []string {
	var out []string
	for _, w := range h.writes() {
		if w.verb != "delete" {
			out = append(out, w.String())
		}
	}
	return out
}

func indexOf(ws []string, s string) int {
	for i, w := range ws {
		if w == s {
			return i
		}
	}
	return -1
}

func (h *harness) deployment(name string) *appsv1.Deployment {
	h.t.Helper()
	d, err := h.kube.AppsV1().Deployments(ns).Get(h.ctx, name, metav1.GetOptions{})
	require.NoError(h.t, err)
	return d
}

func (h *harness) exists(resource, name string) bool {
	var err error
	switch resource {
	case "deployments":
		_, err = h.kube.Tracker().Get(deploymentsGVR, ns, name)
	case "services":
		_, err = h.kube.Tracker().Get(corev1.SchemeGroupVersion.WithResource("services"), ns, name)
	case "ingresses":
		_, err = h.kube.Tracker().Get(networkingv1.SchemeGroupVersion.WithResource("ingresses"), ns, name)
	default:
		h.t.Fatalf("unknown resource %s", resource)
	}
	return err == nil
}

func (h *harness) status() contract.Status {
	h.t.Helper()
	st, err := contract.Read(h.deployment("web").Annotations)
	require.NoError(h.t, err)
	return st
}

// edit changes the user's Deployment as a user would.
func (h *harness) edit(change func(d *appsv1.Deployment)) {
	h.t.Helper()
	d := h.deployment("web")
	change(d)
	_, err := h.kube.AppsV1().Deployments(ns).Update(h.ctx, d, metav1.UpdateOptions{})
	require.NoError(h.t, err)
}

func (h *harness) setImage(image string) {
	h.edit(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = image })
}

func (h *harness) command(verb string) {
	raw, err := json.Marshal(contract.Command{Verb: contract.Verb(verb), By: "alice"})
	require.NoError(h.t, err)
	h.edit(func(d *appsv1.Deployment) { d.Annotations[contract.CommandKey] = string(raw) })
}

// canaryReady plays the Deployment controller: n canary pods updated and Ready.
func (h *harness) canaryReady(n int32) {
	h.t.Helper()
	c := h.deployment(contract.CanaryName("web"))
	c.Status = appsv1.DeploymentStatus{ObservedGeneration: c.Generation, Replicas: n, UpdatedReplicas: n,
		ReadyReplicas: n, AvailableReplicas: n}
	_, err := h.kube.AppsV1().Deployments(ns).UpdateStatus(h.ctx, c, metav1.UpdateOptions{})
	require.NoError(h.t, err)
}

// stableReady plays the Deployment controller: n stable pods updated and Ready.
func (h *harness) stableReady(n int32) {
	h.t.Helper()
	d := h.deployment("web")
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n,
		ReadyReplicas: n, AvailableReplicas: n}
	_, err := h.kube.AppsV1().Deployments(ns).UpdateStatus(h.ctx, d, metav1.UpdateOptions{})
	require.NoError(h.t, err)
}

func (h *harness) ingressWeight() (int, bool) {
	h.t.Helper()
	w, ok, err := router.Nginx{Client: h.kube}.Weight(h.ctx, router.Target{Namespace: ns, Ingress: "web"})
	require.NoError(h.t, err)
	return w, ok
}

// events drains the recorded events ("Type Reason message").
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}
