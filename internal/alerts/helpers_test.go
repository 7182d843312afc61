package alerts

import (
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	typedappsv1 "k8s.io/client-go/kubernetes/typed/apps/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

const testToken = "s3cret-token"

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t    testing.TB
	r    *Receiver
	kube *fake.Clientset
	reg  *prometheus.Registry
	// tokenPath is the token file the receiver reads.
	tokenPath string
}

// newFixture starts a receiver with its workers on a fake clientset holding objs.
func newFixture(t testing.TB, tune func(*Options), objs ...runtime.Object) *fixture {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(path, []byte(testToken+"\n"), 0o600))
	f := &fixture{t: t, kube: fakeAPI(t, objs...), reg: prometheus.NewRegistry(), tokenPath: path}
	o := Options{TokenFile: path, Kube: f.kube, Registerer: f.reg, Log: zap.NewNop()}
	if tune != nil {
		tune(&o)
	}
	r, err := New(o)
	require.NoError(t, err)
	f.r = r
	r.Start()
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	return f
}

// post sends body with the bearer token (none when token is "").
func (f *fixture) post(token string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.r.ServeHTTP(rec, req)
	return rec
}

// drain waits until every queued alert is marked (the receiver stops taking new ones).
func (f *fixture) drain() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(f.t, f.r.Stop(ctx))
}

func (f *fixture) patches() []k8stesting.PatchAction {
	var out []k8stesting.PatchAction
	for _, a := range f.kube.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && a.GetVerb() == "patch" {
			out = append(out, p)
		}
	}
	return out
}

// mark reads the alert mark of a Deployment from the fake API server.
func (f *fixture) mark(ns, name string) *Mark {
	f.t.Helper()
	d, err := f.kube.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(f.t, err)
	m, _, err := ReadMark(d.Annotations)
	require.NoError(f.t, err)
	return m
}

// deployment is an opted-in Deployment with extra annotations kv.
func deployment(ns, name string, kv ...string) *appsv1.Deployment {
	ann := map[string]string{contract.KeyEnabled: "true"}
	for i := 0; i+1 < len(kv); i += 2 {
		ann[kv[i]] = kv[i+1]
	}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann, ResourceVersion: "1"}}
}

// alert is a firing alert for default/web unless labels say otherwise.
func alert(name, fp string, labels ...string) amtemplate.Alert {
	kv := amtemplate.KV{"alertname": name, "namespace": "default", "deployment": "web", "severity": "critical"}
	for i := 0; i+1 < len(labels); i += 2 {
		if labels[i+1] == "" {
			delete(kv, labels[i])
			continue
		}
		kv[labels[i]] = labels[i+1]
	}
	return amtemplate.Alert{Status: "firing", Labels: kv, Annotations: amtemplate.KV{}, StartsAt: t0, Fingerprint: fp}
}

func resolved(a amtemplate.Alert) amtemplate.Alert {
	a.Status, a.EndsAt = "resolved", a.StartsAt.Add(time.Minute)
	return a
}

// payload renders a version 4 webhook payload as Alertmanager sends it.
func payload(t testing.TB, alerts ...amtemplate.Alert) []byte {
	t.Helper()
	b, err := json.Marshal(Message{
		Data: &amtemplate.Data{Receiver: "rolloutd", Status: "firing", Alerts: alerts,
			GroupLabels: amtemplate.KV{}, CommonLabels: amtemplate.KV{}, CommonAnnotations: amtemplate.KV{},
			ExternalURL: "http://alertmanager:9093"},
		Version: "4", GroupKey: "{}:{}",
	})
	require.NoError(t, err)
	return b
}

// fakeAPI is a fake clientset on a plain object tracker (the field-managed one of
// fake.NewClientset rebuilds a REST mapper per write, too slow for a flood) that
// treats a merge patch of metadata as the real API server does: a resourceVersion
// in the patch is a precondition (409 when the object changed), and every write
// bumps the resourceVersion.
func fakeAPI(t testing.TB, objs ...runtime.Object) *fake.Clientset {
	tracker := k8stesting.NewObjectTracker(scheme.Scheme, scheme.Codecs.UniversalDecoder())
	for _, o := range objs {
		require.NoError(t, tracker.Add(o))
	}
	kube := &fake.Clientset{}
	kube.AddReactor("*", "*", k8stesting.ObjectReaction(tracker))
	gvr := appsv1.SchemeGroupVersion.WithResource("deployments")
	kube.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.PatchAction)
		var body struct {
			Metadata struct {
				ResourceVersion string            `json:"resourceVersion"`
				Annotations     map[string]string `json:"annotations"`
			} `json:"metadata"`
		}
		if p.GetPatchType() != types.MergePatchType || json.Unmarshal(p.GetPatch(), &body) != nil {
			return false, nil, nil
		}
		obj, err := tracker.Get(gvr, p.GetNamespace(), p.GetName())
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		if rv := body.Metadata.ResourceVersion; rv != "" && rv != d.ResourceVersion {
			return true, nil, apierrors.NewConflict(gvr.GroupResource(), d.Name, errors.New("the object has been modified"))
		}
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		for k, v := range body.Metadata.Annotations {
			d.Annotations[k] = v
		}
		n, _ := strconv.Atoi(d.ResourceVersion)
		d.ResourceVersion = strconv.Itoa(n + 1)
		return true, d, tracker.Update(gvr, d, d.Namespace)
	})
	return kube
}

// blockingKube makes every Deployment patch wait for s.release, announcing it on
// s.entered first: a slow API server under the marking workers.
type blockingKube struct {
	kubernetes.Interface
	s *slowAPI
}

func (k *blockingKube) AppsV1() typedappsv1.AppsV1Interface {
	return blockingApps{AppsV1Interface: k.Interface.AppsV1(), s: k.s}
}

type blockingApps struct {
	typedappsv1.AppsV1Interface
	s *slowAPI
}

func (a blockingApps) Deployments(ns string) typedappsv1.DeploymentInterface {
	return blockingDeployments{DeploymentInterface: a.AppsV1Interface.Deployments(ns), s: a.s}
}

type blockingDeployments struct {
	typedappsv1.DeploymentInterface
	s *slowAPI
}

func (d blockingDeployments) Patch(ctx context.Context, name string, pt types.PatchType, data []byte,
	opts metav1.PatchOptions, sub ...string) (*appsv1.Deployment, error) {
	d.s.entered <- struct{}{}
	select {
	case <-d.s.release:
	case <-ctx.Done():
		// As a real client: the request's context ends the wait.
		return nil, fmt.Errorf("patch: %w", ctx.Err())
	}
	return d.DeploymentInterface.Patch(ctx, name, pt, data, opts, sub...)
}

// forgetAll empties the dedupe set (benchmarks replay the same payloads).
func (s *seenSet) forgetAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.order.Init()
	s.index = map[string]*list.Element{}
}
