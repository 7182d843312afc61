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

// leftovers names what of the apps is still in ns, "" when nothing is.
func (b *bench) leftovers(ctx context.Context, ns string) (string, error) {
	var left []string
	count := func(what string, n int) {
		if n > 0 {
			left = append(left, fmt.Sprintf("%d %s", n, what))
		}
	}
	deps, err := b.kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{LabelSelector: "!" + otherLabel})
	if err != nil {
		return "", err
	}
	count("deployments", len(deps.Items))
	rss, err := b.kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	n := 0
	for _, rs := range rss.Items {
		if !strings.HasPrefix(rs.Name, otherPrefix) {
			n++
		}
	}
	count("replicasets", n)
	pods, err := b.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	count("pods", len(pods.Items))
	svcs, err := b.kube.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	count("services", len(svcs.Items))
	ings, err := b.kube.NetworkingV1().Ingresses(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	count("ingresses", len(ings.Items))
	cds, err := b.dyn.Resource(canaryGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	count("canaries", len(cds.Items))
	return strings.Join(left, ", "), nil
}
