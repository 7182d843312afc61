package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// now is the fixed clock of every test.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const ns = "shop"

// result is one rolloutctl invocation.
type result struct {
	code     int
	out, err string
}

// runCLI runs rolloutctl against a fake clientset as user alice.
func runCLI(t *testing.T, cs *fake.Clientset, args ...string) result {
	t.Helper()
	return runCLIContext(t, context.Background(), cs, args...)
}

func runCLIContext(t *testing.T, ctx context.Context, cs *fake.Clientset, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := &App{Out: &out, Err: &errb, Clientset: cs, User: "alice", Now: func() time.Time { return now }}
	code := Execute(ctx, a, "rolloutctl", append([]string{"-n", ns}, args...))
	return result{code: code, out: out.String(), err: errb.String()}
}

// template is a pod template running image.
func template(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
	}
}

// deployment is an opted-in Deployment "web" whose template runs image, with st
// as its status annotation (none when st is nil).
func deployment(image string, st *contract.Status, extra ...string) *appsv1.Deployment {
	ann := map[string]string{"rolloutd.io/enabled": "true"}
	for i := 0; i+1 < len(extra); i += 2 {
		ann[extra[i]] = extra[i+1]
	}
	if st != nil {
		raw, err := st.Encode()
		if err != nil {
			panic(err)
		}
		ann[contract.StatusKey] = raw
	}
	replicas := int32(4)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, UID: types.UID("uid-web"), Annotations: ann,
			CreationTimestamp: metav1.NewTime(now.Add(-30 * 24 * time.Hour))},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: template(image), Paused: true,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
}

// rev is the rolloutd revision hash of a template running image.
func rev(image string) string { return workload.Revision(template(image)) }

// replicaSet is a ReplicaSet of web at revision number n running image.
func replicaSet(d *appsv1.Deployment, n int, image string, created time.Time) *appsv1.ReplicaSet {
	tmpl := template(image)
	tmpl.Labels = map[string]string{"app": "web", "pod-template-hash": fmt.Sprintf("%dabc", n)}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-" + tmpl.Labels["pod-template-hash"], Namespace: ns,
			Labels:            tmpl.Labels,
			Annotations:       map[string]string{workload.RevisionNumberAnnotation: jsonNumber(n)},
			OwnerReferences:   []metav1.OwnerReference{workload.OwnerRef(d)},
			CreationTimestamp: metav1.NewTime(created),
		},
		Spec: appsv1.ReplicaSetSpec{Template: tmpl},
	}
}

func jsonNumber(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func fp(v float64) *float64 { return &v }

// paused is a canary rollout waiting for approval at step 2 of 5.
func paused(image string) *contract.Status {
	at := now.Add(-90 * time.Second)
	return &contract.Status{
		Phase: contract.Paused, Revision: rev(image), StableRevision: rev("shop/web:1.0"),
		Weight: 20, Step: 2, Steps: 5, Reason: "Paused", LastTransitionTime: now.Add(-3 * time.Minute),
		StepStartedAt: &at,
		Message:       "step 2/5 at 20% passed; waiting for approval: run `rolloutctl promote web`",
		Checks: []contract.CheckResult{
			{Name: "error-rate<=1%+baseline", Value: fp(0.004), Baseline: fp(0.003), Verdict: contract.Pass},
			{Name: "latency-p99<=1.2x", Value: fp(0.231), Baseline: fp(0.198), Verdict: contract.Pass},
			{Name: "memory<=1.3x", Value: fp(1.5e8), Baseline: fp(1.3e8), Verdict: contract.Pass},
		},
	}
}

// golden compares got with testdata/<name>.golden, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./internal/cli/ -update")
	require.Equal(t, string(want), got)
}
