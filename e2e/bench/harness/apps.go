package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Apps are opted-in Deployments of one replica behind router nginx, each with
// its Service and Ingress, running image example.com/app:v1 until released.
type Apps struct {
	Kube      kubernetes.Interface
	Namespace string
	// Annotations are added to rolloutd.io/enabled and rolloutd.io/router=nginx.
	Annotations map[string]string
	// RPS is the simulated request rate of each app's Service.
	RPS int
	// Place, when set, constrains where the pods run (capacity.Pool.Place).
	Place func(*corev1.PodSpec)
	// Bare leaves out the rolloutd.io annotations, for an app another tool
	// takes over or that opts in later (Annotate).
	Bare bool
}

// Names are the app names app0000 .. app<n-1>.
func Names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("app%04d", i)
	}
	return out
}

// Create makes the Deployment, Service and Ingress of each app.
func (a Apps) Create(ctx context.Context, names []string) error {
	return Parallel(len(names), func(i int) error { return a.create(ctx, names[i]) })
}

func (a Apps) create(ctx context.Context, name string) error {
	ann := map[string]string{}
	if !a.Bare {
		ann = map[string]string{"rolloutd.io/enabled": "true", "rolloutd.io/router": "nginx"}
		maps.Copy(ann, a.Annotations)
	}
	app := framework.App{Name: name, Replicas: 1, Container: "app", Image: "example.com/app:v1",
		Annotations: ann, RPS: a.RPS, Ingress: true, Place: a.Place}
	return app.Create(ctx, a.Kube, a.Namespace)
}

// Release sets a new image and pod annotations (e.g. sim.rolloutd.io/error-rate;
// a nil value removes one) on each app's template.
func (a Apps) Release(ctx context.Context, names []string, image string, podAnnotations map[string]any) error {
	patch, err := framework.ReleasePatch("app", image, podAnnotations)
	if err != nil {
		return err
	}
	return a.patch(ctx, names, patch)
}

// Annotate sets annotations on each app's Deployment.
func (a Apps) Annotate(ctx context.Context, names []string, ann map[string]string) error {
	return Parallel(len(names), func(i int) error { return a.AnnotateOne(ctx, names[i], ann) })
}

// AnnotateOne sets annotations on one app's Deployment.
func (a Apps) AnnotateOne(ctx context.Context, name string, ann map[string]string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": ann}})
	if err != nil {
		return err
	}
	if _, err := a.Kube.AppsV1().Deployments(a.Namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("annotate deployment %s: %w", name, err)
	}
	return nil
}

func (a Apps) patch(ctx context.Context, names []string, patch []byte) error {
	return Parallel(len(names), func(i int) error {
		_, err := a.Kube.AppsV1().Deployments(a.Namespace).Patch(ctx, names[i], types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		if err != nil {
			return fmt.Errorf("patch deployment %s: %w", names[i], err)
		}
		return nil
	})
}

// TakenOver holds for an app rolloutd adopted (Idle, paused) with its pod Ready.
func TakenOver(d *appsv1.Deployment, st contract.Status) bool {
	return st.Phase == contract.Idle && d.Spec.Paused && d.Status.ReadyReplicas == 1
}

// AtWeight holds for an app whose canary gets weight percent of the traffic.
func AtWeight(weight int) func(*appsv1.Deployment, contract.Status) bool {
	return func(_ *appsv1.Deployment, st contract.Status) bool {
		return st.Phase == contract.Progressing && st.Weight == weight
	}
}

// Wait lists the apps' Deployments every second until cond holds for all of
// names, for at most timeout, printing the count when it changes.
func (a Apps) Wait(ctx context.Context, names []string, what string, timeout time.Duration, cond func(*appsv1.Deployment, contract.Status) bool) error {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	n, shown := 0, -1
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		list, err := a.Kube.AppsV1().Deployments(a.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		n = 0
		for i := range list.Items {
			d := &list.Items[i]
			st, err := contract.Read(d.Annotations)
			if err == nil && want[d.Name] && cond(d, st) {
				n++
			}
		}
		if n != shown {
			fmt.Printf("  %s: %d/%d at %s\n", what, n, len(names), time.Now().Format("15:04:05"))
			shown = n
		}
		return n == len(names), nil
	})
	if err != nil {
		return fmt.Errorf("%s: %d of %d after %s: %w", what, n, len(names), timeout, err)
	}
	return nil
}

// Parallel runs f for 0..n-1 on 16 workers and returns the first error.
func Parallel(n int, f func(int) error) error {
	idx := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range idx {
				if err := f(i); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		idx <- i
	}
	close(idx)
	wg.Wait()
	close(errs)
	return <-errs
}
