package framework

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/internal/cli"
)

// TestLabel marks namespaces created by Namespace.
const TestLabel = "e2e.rolloutd.io/test"

// Namespace creates a fresh namespace named after the test and deletes it at
// cleanup. If the test failed, its Events, Deployments and Ingresses (with
// annotations) are written to the test log first.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	name := namespaceName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := CreateNamespace(ctx, e.Kube, name, map[string]string{TestLabel: "true"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if t.Failed() {
			e.dumpNamespace(ctx, t, name)
		}
		if err := DeleteNamespace(ctx, e.Kube, name); err != nil {
			t.Error(err)
		}
	})
	return name
}

// CreateNamespace creates namespace name with labels: the one way the e2e
// tests (Env.Namespace) and the benchmark programs (e2e/bench/harness) make
// their namespaces.
func CreateNamespace(ctx context.Context, kube kubernetes.Interface, name string, labels map[string]string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// DeleteNamespace starts the deletion of namespace name; WaitNamespaceGone
// waits for its end.
func DeleteNamespace(ctx context.Context, kube kubernetes.Interface, name string) error {
	if err := kube.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}

// WaitNamespaceGone polls every second until namespace name can no longer be
// read (its pods no longer count on any node), or ctx ends.
func WaitNamespaceGone(ctx context.Context, kube kubernetes.Interface, name string) error {
	return wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		return err != nil, nil
	})
}

// namespaceName turns a test name into a DNS label with a random suffix.
func namespaceName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	base := strings.Trim(b.String(), "-")
	for strings.Contains(base, "--") {
		base = strings.ReplaceAll(base, "--", "-")
	}
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	return "e2e-" + base + "-" + strings.ToLower(rand.Text()[:5])
}

// dumpNamespace writes what a failed test's namespace held to the test log.
func (e *Env) dumpNamespace(ctx context.Context, t testing.TB, ns string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "==== namespace %s at failure\n", ns)
	e.dumpEvents(ctx, &b, ns)
	// client-go's List returns an empty list beside its error.
	deps, err := e.Kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	dumpList(&b, "deployments", deps.Items, err, writeDeployment)
	ings, err := e.Kube.NetworkingV1().Ingresses(ns).List(ctx, metav1.ListOptions{})
	dumpList(&b, "ingresses", ings.Items, err, writeIngress)
	t.Log(b.String())
}

// dumpList writes each item with write, or the error that listing what met.
func dumpList[T any](b *strings.Builder, what string, items []T, err error, write func(*strings.Builder, T)) {
	if err != nil {
		fmt.Fprintf(b, "%s: %v\n", what, err)
		return
	}
	for _, item := range items {
		write(b, item)
	}
}

func (e *Env) dumpEvents(ctx context.Context, b *strings.Builder, ns string) {
	events, err := e.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(b, "events: %v\n", err)
		return
	}
	sort.Slice(events.Items, func(i, j int) bool {
		return cli.EventTime(events.Items[i]).Before(cli.EventTime(events.Items[j]))
	})
	fmt.Fprintf(b, "-- %d events\n", len(events.Items))
	for _, ev := range events.Items {
		fmt.Fprintf(b, "%s %-7s %-24s %s/%s: %s\n", cli.EventTime(ev).Format("15:04:05.000"), ev.Type, ev.Reason,
			ev.InvolvedObject.Kind, ev.InvolvedObject.Name, ev.Message)
	}
}

func writeDeployment(b *strings.Builder, d appsv1.Deployment) {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	fmt.Fprintf(b, "-- deployment %s: %d/%d ready, %d updated, paused=%v, generation %d (observed %d)\n",
		d.Name, d.Status.ReadyReplicas, want, d.Status.UpdatedReplicas, d.Spec.Paused, d.Generation, d.Status.ObservedGeneration)
	writeAnnotations(b, "", d.Annotations)
	writeAnnotations(b, "template ", d.Spec.Template.Annotations)
}

func writeIngress(b *strings.Builder, ing networkingv1.Ingress) {
	fmt.Fprintf(b, "-- ingress %s\n", ing.Name)
	writeAnnotations(b, "", ing.Annotations)
}

func writeAnnotations(b *strings.Builder, prefix string, a map[string]string) {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "   %s%s: %s\n", prefix, k, a[k])
	}
}
