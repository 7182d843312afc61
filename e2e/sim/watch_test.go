package sim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// switchableDiscovery serves the Istio group once enabled.
type switchableDiscovery struct {
	mu      sync.Mutex
	enabled bool
}

func (d *switchableDiscovery) enable() { d.mu.Lock(); d.enabled = true; d.mu.Unlock() }

func (d *switchableDiscovery) ServerResourcesForGroupVersion(gv string) (*metav1.APIResourceList, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.enabled || gv != virtualServicesGVR.GroupVersion().String() {
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: gv}, "")
	}
	return &metav1.APIResourceList{GroupVersion: gv, APIResources: []metav1.APIResource{
		{Name: "virtualservices"}, {Name: "destinationrules"}}}, nil
}

func kubePod(name, app, hash string, ann map[string]string) *corev1.Pod {
	yes := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID("uid-" + name),
			Labels:          map[string]string{"app": app, "pod-template-hash": hash},
			Annotations:     ann,
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: app + "-" + hash, Controller: &yes}},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager"}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example/" + app + ":2"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

func kubeService(name string, labels, ann map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, Labels: labels, Annotations: ann},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}},
	}
}

// rig is a watcher on fake clients with an engine and the HTTP handler.
type rig struct {
	kube     *fake.Clientset
	dyn      *dynamicfake.FakeDynamicClient
	disc     *switchableDiscovery
	watcher  *Watcher
	engine   *Engine
	server   *httptest.Server
	logs     *observer.ObservedLogs
	podWatch chan struct{}
}

func newRig(t *testing.T, kubeObjs []runtime.Object, istioObjs ...runtime.Object) *rig {
	t.Helper()
	r := &rig{kube: fake.NewClientset(kubeObjs...), disc: &switchableDiscovery{}, podWatch: make(chan struct{})}
	var once sync.Once
	r.kube.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		once.Do(func() { close(r.podWatch) })
		return false, nil, nil
	})
	r.dyn = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		virtualServicesGVR: "VirtualServiceList", destinationRulesGVR: "DestinationRuleList"}, istioObjs...)
	core, logs := observer.New(zap.InfoLevel)
	r.logs = logs
	var err error
	r.watcher, err = NewWatcher(Clients{Kube: r.kube, Dynamic: r.dyn, Discovery: r.disc}, 10*time.Millisecond, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	metrics := NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	r.engine = NewEngine(1, metrics)
	r.server = httptest.NewServer(NewHandler(reg, r.engine, zap.New(core)))
	t.Cleanup(r.server.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := r.watcher.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(r.server.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// eventually steps the engine and scrapes /metrics until cond holds.
func (r *rig) eventually(t *testing.T, what string, cond func(metrics string) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	now := time.Unix(1_700_000_000, 0)
	for i := 0; ; i++ {
		r.engine.Step(r.watcher, now.Add(time.Duration(i)*time.Second), time.Second)
		if _, body := r.get(t, "/metrics"); cond(body) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // pacing between polls, not synchronisation
	}
}

func has(substrings ...string) func(string) bool {
	return func(body string) bool {
		for _, line := range strings.Split(body, "\n") {
			all := true
			for _, s := range substrings {
				all = all && strings.Contains(line, s)
			}
			if all {
				return true
			}
		}
		return false
	}
}

func not(f func(string) bool) func(string) bool { return func(s string) bool { return !f(s) } }

func TestWatchDrivesMetricsEndToEnd(t *testing.T) {
	managedLabels := map[string]string{labelManagedBy: managedByValue}
	r := newRig(t, []runtime.Object{
		kubeService("web", nil, map[string]string{AnnotationRPS: "200"}),
		kubeService("web-canary", managedLabels, nil),
		kubePod("web-6f7d9-abcde", "web", "6f7d9", nil),
		kubePod("web-canary-84c6b-fghij", "web-canary", "84c6b", map[string]string{AnnotationErrorRate: "oops"}),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}},
	})
	if code, _ := r.get(t, "/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz before the first step = %d, want 503", code)
	}
	// Without Istio the Service routes by replica ratio: app metrics only.
	r.eventually(t, "app metrics of the stable pod", has(`http_requests_total{`, `pod="web-6f7d9-abcde"`))
	if code, _ := r.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz after a step = %d, want 200", code)
	}
	r.eventually(t, "cAdvisor of the canary pod", has(`container_cpu_usage_seconds_total{`, `cpu="total"`, `image="example/web-canary:2"`, `pod="web-canary-84c6b-fghij"`))

	// The Istio CRDs appear later and a VirtualService sends half to the canary.
	_, err := r.dyn.Resource(virtualServicesGVR).Namespace("shop").Create(context.Background(), unstructuredVS("shop", "web", map[string]any{
		"hosts": []any{"web.shop.svc.cluster.local"},
		"http":  []any{map[string]any{"route": []any{dest("web", "", 50), dest("web-canary", "", 50)}}},
	}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.disc.enable()
	r.eventually(t, "istio series for the canary", has(`istio_requests_total{`, `reporter="source"`, `destination_workload="web-canary"`))
	_, body := r.get(t, "/debug/routes")
	var routes map[string]RouteStatus
	if err := json.Unmarshal([]byte(body), &routes); err != nil {
		t.Fatalf("/debug/routes: %v: %s", err, body)
	}
	if len(routes) != 1 || routes["shop/web"].Router != RouterIstio || routes["shop/web"].PodShare["shop/web-canary-84c6b-fghij"] != 0.5 {
		t.Errorf("/debug/routes = %s, want only shop/web, routed by istio, half to the canary pod", body)
	}

	// Deleting the canary pod removes its series.
	<-r.podWatch
	if err := r.kube.CoreV1().Pods("shop").Delete(context.Background(), "web-canary-84c6b-fghij", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r.eventually(t, "canary series to vanish", not(has(`web-canary-84c6b-fghij`)))
	r.eventually(t, "503 for the canary without pods", has(`istio_requests_total{`, `destination_service_name="web-canary"`, `response_code="503"`, `response_flags="UH"`))

	warnings := r.logs.FilterMessage("invalid simulator annotations").Len()
	if warnings != 1 {
		t.Errorf("logged %d warnings for the bad annotation, want 1", warnings)
	}
}

func TestTransformKeepsTheCacheSmall(t *testing.T) {
	p := kubePod("web-6f7d9-abcde", "web", "6f7d9", map[string]string{"unrelated": strings.Repeat("x", 1000)})
	slim, err := transformPod(p)
	if err != nil {
		t.Fatal(err)
	}
	sp := slim.(*Pod)
	if sp.ManagedFields != nil || sp.Annotations != nil || sp.OwnerReferences != nil {
		t.Errorf("slim pod keeps metadata it does not need: %+v", sp.ObjectMeta)
	}
	if sp.Workload != "web" || sp.Container != "app" || !sp.Serving() {
		t.Errorf("slim pod = %+v", sp)
	}
	again, _ := transformPod(sp)
	if again != slim {
		t.Error("transforming a slim pod again must return it unchanged")
	}
	if _, err := transformVirtualService(&unstructured.Unstructured{Object: map[string]any{"spec": "bad"}}); err != nil {
		t.Errorf("a malformed VirtualService must not fail the informer: %v", err)
	}
}
