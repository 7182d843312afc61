package controller

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// foreignService says why svc is not the Deployment's own Service ("" when it
// is): it must select the Deployment's pods. Whoever may annotate a Deployment
// could otherwise name another team's Service and pull part of its traffic onto
// a canary.
func foreignService(d *appsv1.Deployment, svc *corev1.Service) string {
	if len(svc.Spec.Selector) == 0 {
		return fmt.Sprintf("service %s/%s has no selector, so it does not select the pods of %s (set %s to the Service selecting them)",
			svc.Namespace, svc.Name, d.Name, contract.KeyService)
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		return fmt.Sprintf("service %s/%s (selector %s) does not select the pods of %s (labels %s): %s must name the Service selecting them",
			svc.Namespace, svc.Name, labels.FormatLabels(svc.Spec.Selector), d.Name, labels.FormatLabels(d.Spec.Template.Labels), contract.KeyService)
	}
	return ""
}

// foreignIngress says why ing does not send to the Service ("" when it does):
// rolloutd splits only an Ingress with a backend on the Deployment's Service.
func foreignIngress(ing *networkingv1.Ingress, service string) string {
	if sendsTo(ing.Spec.DefaultBackend, service) {
		return ""
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for i := range rule.HTTP.Paths {
			if sendsTo(&rule.HTTP.Paths[i].Backend, service) {
				return ""
			}
		}
	}
	return fmt.Sprintf("ingress %s/%s sends no traffic to service %s: %s must name an Ingress with a backend on the Deployment's Service",
		ing.Namespace, ing.Name, service, contract.KeyIngress)
}

func sendsTo(b *networkingv1.IngressBackend, service string) bool {
	return b != nil && b.Service != nil && b.Service.Name == service
}
