package app

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/rolloutd/rolloutd/internal/controller"
	"github.com/rolloutd/rolloutd/router"
)

// istioWatchable reports whether the API serves Istio's VirtualServices and
// DestinationRules and the daemon may list and watch them in every namespace it
// works in. Only then are they cached and watched (drift of Istio routes repaired
// on the event); otherwise an informer would fail forever, and the Istio router is
// compared with the API at every reconcile instead.
func istioWatchable(ctx context.Context, kube kubernetes.Interface, namespaces []string, log *zap.Logger) bool {
	return watchable(ctx, kube, router.VirtualServices.GroupVersion(),
		[]string{router.VirtualServices.Resource, router.DestinationRules.Resource}, namespaces,
		log.With(zap.String("watch", "Istio routes")))
}

// gatewayWatchable reports which Gateway API route kinds the API serves and
// the daemon may list and watch (the chart's rbac.gateway, and rbac.grpcRoute
// for GRPCRoutes). Only those are watched, so a hand edit of a user's route, or
// its Gateway turning it down, is seen on the event; for the others router
// gateway looks at the route again every few seconds while a rollout runs.
func gatewayWatchable(ctx context.Context, kube kubernetes.Interface, namespaces []string, log *zap.Logger) controller.RouteKinds {
	gv := schema.GroupVersion(gwv1.GroupVersion)
	return controller.RouteKinds{
		HTTP: watchable(ctx, kube, gv, []string{"httproutes"}, namespaces, log.With(zap.String("watch", "HTTPRoutes"))),
		GRPC: watchable(ctx, kube, gv, []string{"grpcroutes"}, namespaces, log.With(zap.String("watch", "GRPCRoutes"))),
	}
}

// watchable reports whether the API serves every resource of gv named and the
// daemon may list and watch each in every namespace it works in, logging why not.
func watchable(ctx context.Context, kube kubernetes.Interface, gv schema.GroupVersion, resources, namespaces []string, log *zap.Logger) bool {
	list, err := kube.Discovery().ServerResourcesForGroupVersion(gv.String())
	if err != nil {
		log.Info("API not served; not watched", zap.String("groupVersion", gv.String()), zap.Error(err))
		return false
	}
	served := map[string]bool{}
	for _, r := range list.APIResources {
		served[r.Name] = true
	}
	if len(namespaces) == 0 {
		namespaces = []string{""}
	}
	for _, res := range resources {
		if !served[res] {
			log.Info("resource not served; not watched", zap.String("resource", res))
			return false
		}
		for _, ns := range namespaces {
			for _, verb := range []string{"list", "watch"} {
				if ok, err := allowed(ctx, kube, ns, verb, gv.Group, res); !ok {
					log.Info("no right to watch; compared at every reconcile instead",
						zap.String("namespace", ns), zap.String("verb", verb), zap.String("resource", res), zap.Error(err))
					return false
				}
			}
		}
	}
	return true
}

func allowed(ctx context.Context, kube kubernetes.Interface, ns, verb, group, resource string) (bool, error) {
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: verb, Group: group, Resource: resource,
		}}}
	out, err := kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("access review: %w", err)
	}
	return out.Status.Allowed, nil
}
