package app

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/router"
)

// istioWatchable reports whether the API serves Istio's VirtualServices and
// DestinationRules and the daemon may list and watch them in every namespace it
// works in. Only then are they cached and watched (drift of Istio routes repaired
// on the event); otherwise an informer would fail forever, and the Istio router is
// compared with the API at every reconcile instead.
func istioWatchable(ctx context.Context, kube kubernetes.Interface, namespaces []string, log *zap.Logger) bool {
	gv := router.VirtualServices.GroupVersion().String()
	list, err := kube.Discovery().ServerResourcesForGroupVersion(gv)
	if err != nil {
		log.Info("Istio's API is not served; Istio routes are not watched", zap.String("groupVersion", gv), zap.Error(err))
		return false
	}
	served := map[string]bool{}
	for _, r := range list.APIResources {
		served[r.Name] = true
	}
	if len(namespaces) == 0 {
		namespaces = []string{""}
	}
	for _, res := range []string{router.VirtualServices.Resource, router.DestinationRules.Resource} {
		if !served[res] {
			log.Info("Istio resource not served; Istio routes are not watched", zap.String("resource", res))
			return false
		}
		for _, ns := range namespaces {
			for _, verb := range []string{"list", "watch"} {
				if ok, err := allowed(ctx, kube, ns, verb, res); !ok {
					log.Info("no right to watch Istio routes; they are compared at every reconcile instead",
						zap.String("namespace", ns), zap.String("verb", verb), zap.String("resource", res), zap.Error(err))
					return false
				}
			}
		}
	}
	return true
}

func allowed(ctx context.Context, kube kubernetes.Interface, ns, verb, resource string) (bool, error) {
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: verb, Group: router.VirtualServices.Group, Resource: resource,
		}}}
	out, err := kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("access review: %w", err)
	}
	return out.Status.Allowed, nil
}
