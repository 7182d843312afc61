package framework

import (
	"context"
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CanaryWeightAnnotation is ingress-nginx's canary weight annotation.
const CanaryWeightAnnotation = "nginx.ingress.kubernetes.io/canary-weight"

// IngressCanaryWeight reads the canary weight annotation of an Ingress. It
// returns found=false when the annotation is absent, and an error when the
// Ingress cannot be read or the value is not an integer.
func (e *Env) IngressCanaryWeight(ctx context.Context, ns, name string) (weight int, found bool, err error) {
	ing, err := e.Kube.NetworkingV1().Ingresses(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return 0, false, fmt.Errorf("get ingress %s/%s: %w", ns, name, err)
	}
	s, ok := ing.Annotations[CanaryWeightAnnotation]
	if !ok {
		return 0, false, nil
	}
	w, err := strconv.Atoi(s)
	if err != nil {
		return 0, true, fmt.Errorf("ingress %s/%s: %s=%q is not an integer", ns, name, CanaryWeightAnnotation, s)
	}
	return w, true, nil
}
