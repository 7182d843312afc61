package router

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// ingress-nginx canary annotations.
const (
	nginxPrefix        = "nginx.ingress.kubernetes.io/"
	AnnCanary          = nginxPrefix + "canary"
	AnnCanaryWeight    = nginxPrefix + "canary-weight"
	AnnCanaryByHeader  = nginxPrefix + "canary-by-header"
	AnnCanaryHeaderVal = nginxPrefix + "canary-by-header-value"
	AnnCanaryHeaderRx  = nginxPrefix + "canary-by-header-pattern"
	AnnCanaryByCookie  = nginxPrefix + "canary-by-cookie"
)

// Nginx splits traffic with an ingress-nginx canary Ingress "<ingress>-canary": a
// copy of the user's Ingress rules whose backend is the canary Service, carrying the
// canary annotations. The user's Ingress is only read.
type Nginx struct {
	Client kubernetes.Interface
}

// CanaryIngressName is the name of the generated canary Ingress.
func CanaryIngressName(ingress string) string { return ingress + "-canary" }

// Apply creates or updates the canary Ingress for split.
func (n Nginx) Apply(ctx context.Context, t Target, split traffic.Split) error {
	if err := split.Validate(); err != nil {
		return err
	}
	api := n.Client.NetworkingV1().Ingresses(t.Namespace)
	user, err := api.Get(ctx, t.Ingress, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("nginx: get ingress %s/%s: %w", t.Namespace, t.Ingress, err)
	}
	want, err := canaryIngress(user, t, split)
	if err != nil {
		return err
	}
	name := CanaryIngressName(t.Ingress)
	have, err := api.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		t.drifted(ingressObject(t.Namespace, name), FieldMissing)
		if _, err := api.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("nginx: create ingress %s/%s: %w", t.Namespace, name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("nginx: get ingress %s/%s: %w", t.Namespace, name, err)
	}
	changed := ingressChanges(have, want)
	if len(changed) == 0 {
		return nil
	}
	for _, f := range changed {
		t.drifted(ingressObject(t.Namespace, name), f)
	}
	have = have.DeepCopy()
	have.Spec, have.Annotations, have.Labels, have.OwnerReferences = want.Spec, want.Annotations, want.Labels, want.OwnerReferences
	if _, err := api.Update(ctx, have, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("nginx: update ingress %s/%s: %w", t.Namespace, name, err)
	}
	return nil
}

func ingressObject(ns, name string) string { return "Ingress " + ns + "/" + name }

// ingressChanges names the fields of have that differ from want.
func ingressChanges(have, want *networkingv1.Ingress) []string {
	var out []string
	if !equality.Semantic.DeepEqual(have.Spec, want.Spec) {
		out = append(out, "spec")
	}
	if !equality.Semantic.DeepEqual(have.Labels, want.Labels) {
		out = append(out, "metadata.labels")
	}
	keys := map[string]bool{}
	for k := range have.Annotations {
		keys[k] = true
	}
	for k := range want.Annotations {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		hv, hok := have.Annotations[k]
		wv, wok := want.Annotations[k]
		if hv != wv || hok != wok {
			out = append(out, "metadata.annotations["+k+"]")
		}
	}
	return out
}

// canaryIngress builds the canary Ingress from the user's: same class, hosts and
// paths, each backend that names the user's Service pointed at the canary Service.
func canaryIngress(user *networkingv1.Ingress, t Target, split traffic.Split) (*networkingv1.Ingress, error) {
	spec := networkingv1.IngressSpec{IngressClassName: user.Spec.IngressClassName}
	for _, r := range user.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		rule := networkingv1.IngressRule{Host: r.Host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
		for _, p := range r.HTTP.Paths {
			if p.Backend.Service == nil || p.Backend.Service.Name != t.Service {
				continue
			}
			p = *p.DeepCopy()
			p.Backend.Service.Name = t.CanaryService
			rule.HTTP.Paths = append(rule.HTTP.Paths, p)
		}
		if len(rule.HTTP.Paths) > 0 {
			spec.Rules = append(spec.Rules, rule)
		}
	}
	if len(spec.Rules) == 0 {
		return nil, fmt.Errorf("nginx: ingress %s/%s has no rule with backend service %q", t.Namespace, t.Ingress, t.Service)
	}
	ann := map[string]string{AnnCanary: "true", AnnCanaryWeight: strconv.Itoa(split.CanaryWeight)}
	if m := split.Match; m != nil {
		switch {
		case m.Kind == traffic.MatchCookie:
			ann[AnnCanaryByCookie] = m.Name
		case m.Regex:
			ann[AnnCanaryByHeader], ann[AnnCanaryHeaderRx] = m.Name, m.Value
		default:
			ann[AnnCanaryByHeader], ann[AnnCanaryHeaderVal] = m.Name, m.Value
		}
	}
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{
			Name:            CanaryIngressName(t.Ingress),
			Namespace:       t.Namespace,
			Labels:          contract.GeneratedLabels(t.Deployment),
			Annotations:     ann,
			OwnerReferences: []metav1.OwnerReference{t.Owner},
		},
		Spec: spec,
	}, nil
}

// Reset deletes the canary Ingress, which sends all traffic to the stable backend.
func (n Nginx) Reset(ctx context.Context, t Target) error {
	name := CanaryIngressName(t.Ingress)
	err := n.Client.NetworkingV1().Ingresses(t.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("nginx: delete ingress %s/%s: %w", t.Namespace, name, err)
	}
	return nil
}

// Weight reads the canary weight of the canary Ingress.
func (n Nginx) Weight(ctx context.Context, t Target) (int, bool, error) {
	name := CanaryIngressName(t.Ingress)
	ing, err := n.Client.NetworkingV1().Ingresses(t.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("nginx: get ingress %s/%s: %w", t.Namespace, name, err)
	}
	w, err := strconv.Atoi(ing.Annotations[AnnCanaryWeight])
	if err != nil {
		return 0, true, fmt.Errorf("nginx: ingress %s/%s: bad %s %q", t.Namespace, name, AnnCanaryWeight, ing.Annotations[AnnCanaryWeight])
	}
	return w, true, nil
}
