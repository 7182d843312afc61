package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
)

// clearApps deletes every object of namespace ns but the -others Deployments
// (and their ReplicaSets): the apps, what either tool generated for them,
// Flagger's Canaries and MetricTemplates; then waits until all of it and
// every pod is gone, so the next tool starts beside the same 2,000 others and
// nothing else.
func (b *bench) clearApps(ctx context.Context, ns string) error {
	if err := b.deleteApps(ctx, ns); err != nil {
		return err
	}
	left := ""
	err := wait.PollUntilContextTimeout(ctx, time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := b.leftovers(ctx, ns)
		if err != nil {
			return false, nil
		}
		left = n
		return n == "", nil
	})
	if err != nil {
		return fmt.Errorf("remove the apps of %s: still there after 5m: %s: %w", ns, left, err)
	}
	return nil
}

var background = metav1.DeletePropagationBackground

func (b *bench) deleteApps(ctx context.Context, ns string) error {
	del := metav1.DeleteOptions{PropagationPolicy: &background}
	sel := metav1.ListOptions{LabelSelector: "!" + otherLabel}
	for _, gvr := range []schema.GroupVersionResource{canaryGVR, templateGVR} {
		if err := b.dyn.Resource(gvr).Namespace(ns).DeleteCollection(ctx, del, metav1.ListOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s: %w", gvr.Resource, err)
		}
	}
	if err := b.kube.AppsV1().Deployments(ns).DeleteCollection(ctx, del, sel); err != nil {
		return fmt.Errorf("delete deployments: %w", err)
	}
	if err := b.kube.NetworkingV1().Ingresses(ns).DeleteCollection(ctx, del, metav1.ListOptions{}); err != nil {
		return fmt.Errorf("delete ingresses: %w", err)
	}
	svcs, err := b.kube.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	return harness.Parallel(len(svcs.Items), func(i int) error {
		err := b.kube.CoreV1().Services(ns).Delete(ctx, svcs.Items[i].Name, del)
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete service %s: %w", svcs.Items[i].Name, err)
		}
		return nil
	})
}

// leftoverKinds are what leftovers counts, in the order it names them: each
// kind but the -others Deployments (by label) and their ReplicaSets (by name).
var leftoverKinds = []struct {
	what       string
	gvr        schema.GroupVersionResource
	selector   string
	skipPrefix string
}{
	{"deployments", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "!" + otherLabel, ""},
	{"replicasets", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, "", otherPrefix},
	{"pods", schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "", ""},
	{"services", schema.GroupVersionResource{Version: "v1", Resource: "services"}, "", ""},
	{"ingresses", schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}, "", ""},
	{"canaries", canaryGVR, "", ""},
}

// leftovers names what of the apps is still in ns, "" when nothing is.
func (b *bench) leftovers(ctx context.Context, ns string) (string, error) {
	var left []string
	for _, k := range leftoverKinds {
		list, err := b.dyn.Resource(k.gvr).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: k.selector})
		if err != nil {
			return "", err
		}
		n := 0
		for _, o := range list.Items {
			if k.skipPrefix == "" || !strings.HasPrefix(o.GetName(), k.skipPrefix) {
				n++
			}
		}
		if n > 0 {
			left = append(left, fmt.Sprintf("%d %s", n, k.what))
		}
	}
	return strings.Join(left, ", "), nil
}
