package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// populate creates total Deployments; the first rolling opt in, with one kwok pod
// each and a Service the simulator sends traffic to. The others run no pod: the
// sandbox's three kwok nodes hold 330 pods, shared with every other test, and the
// daemon's cost for a Deployment it only watches is the object, not its pods.
func populate(ctx context.Context, kube kubernetes.Interface, ns string, s size, interval time.Duration, place func(*corev1.PodSpec)) error {
	return harness.Parallel(s.total, func(i int) error {
		name := fmt.Sprintf("d%05d", i)
		if err := createDeployment(ctx, kube, ns, name, i < s.rolling, interval, place); err != nil {
			return err
		}
		if i >= s.rolling {
			return nil
		}
		svc := framework.App{Name: name, RPS: 50}.Service(ns)
		_, err := kube.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
		return err
	})
}

func createDeployment(ctx context.Context, kube kubernetes.Interface, ns, name string, optIn bool, interval time.Duration, place func(*corev1.PodSpec)) error {
	ann := map[string]string{}
	if optIn {
		ann = map[string]string{"rolloutd.io/enabled": "true", "rolloutd.io/router": "service",
			"rolloutd.io/steps": "50", "rolloutd.io/interval": interval.String(), "rolloutd.io/threshold": "1",
			"rolloutd.io/checks": "error-rate<=1%+baseline"}
	}
	var replicas int32
	if optIn {
		replicas = 1
	}
	app := framework.App{Name: name, Replicas: replicas, Container: "web", Image: "example.com/app:v1", Annotations: ann}
	if optIn {
		app.Place = place
	}
	_, err := kube.AppsV1().Deployments(ns).Create(ctx, app.Deployment(ns), metav1.CreateOptions{})
	return err
}

// releaseAll changes the image of the rolling Deployments, all at once or the i-th
// at i/rolling of spread.
func releaseAll(ctx context.Context, kube kubernetes.Interface, ns string, s size, spread time.Duration) error {
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
		"containers": []map[string]any{{"name": "web", "image": "example.com/app:v2"}}}}}})
	start := time.Now()
	return harness.Parallel(s.rolling, func(i int) error {
		at := start.Add(spread * time.Duration(i) / time.Duration(s.rolling))
		select {
		case <-time.After(time.Until(at)):
		case <-ctx.Done():
			return ctx.Err()
		}
		_, err := kube.AppsV1().Deployments(ns).Patch(ctx, fmt.Sprintf("d%05d", i), types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		return err
	})
}

// count reports how many rolling Deployments are in the wanted state: taken over
// (Idle) or, after the release, settled on the new template.
func count(ctx context.Context, kube kubernetes.Interface, ns string, settled bool) (int, error) {
	list, err := kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range list.Items {
		d := &list.Items[i]
		st, err := contract.Read(d.Annotations)
		if err != nil || d.Annotations["rolloutd.io/enabled"] != "true" {
			continue
		}
		done := st.Phase == contract.Idle && d.Spec.Paused
		if settled {
			done = (st.Phase == contract.Succeeded || st.Phase == contract.RolledBack) && st.Revision == workload.Revision(d.Spec.Template)
		}
		if done {
			n++
		}
	}
	return n, nil
}
