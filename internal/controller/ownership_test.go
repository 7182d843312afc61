package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRoutingObjectsMustServeTheDeployment(t *testing.T) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{
			Labels: map[string]string{"app": "web", "tier": "front"}}}}}
	svc := func(sel map[string]string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}, Spec: corev1.ServiceSpec{Selector: sel}}
	}
	services := []struct {
		name    string
		sel     map[string]string
		foreign bool
	}{
		{"selects the pods", map[string]string{"app": "web"}, false},
		{"selects them with every label", map[string]string{"app": "web", "tier": "front"}, false},
		{"another team's selector", map[string]string{"app": "payments"}, true},
		{"a label the pods lack", map[string]string{"app": "web", "team": "x"}, true},
		{"no selector (hand-made endpoints)", nil, true},
	}
	for _, tc := range services {
		t.Run("service "+tc.name, func(t *testing.T) {
			assert.Equal(t, tc.foreign, foreignService(d, svc(tc.sel)) != "")
		})
	}
	backend := func(name string) networkingv1.IngressBackend {
		return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name}}
	}
	ing := func(def *networkingv1.IngressBackend, paths ...string) *networkingv1.Ingress {
		i := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "i", Namespace: "ns"}}
		i.Spec.DefaultBackend = def
		var ps []networkingv1.HTTPIngressPath
		for _, p := range paths {
			ps = append(ps, networkingv1.HTTPIngressPath{Backend: backend(p)})
		}
		i.Spec.Rules = []networkingv1.IngressRule{{}, {IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: ps}}}}
		return i
	}
	def := backend("web")
	ingresses := []struct {
		name    string
		ing     *networkingv1.Ingress
		foreign bool
	}{
		{"a path to the Service", ing(nil, "payments", "web"), false},
		{"its default backend", ing(&def), false},
		{"only another Service", ing(nil, "payments"), true},
		{"no backend at all", ing(nil), true},
	}
	for _, tc := range ingresses {
		t.Run("ingress "+tc.name, func(t *testing.T) {
			assert.Equal(t, tc.foreign, foreignIngress(tc.ing, "web") != "")
		})
	}
}

func TestSlimIngressKeepsTheServicesItSendsTo(t *testing.T) {
	full := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "i", Namespace: "ns"}}
	full.Spec.Rules = []networkingv1.IngressRule{{Host: "a", IngressRuleValue: networkingv1.IngressRuleValue{
		HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/",
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web",
				Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}
	out, err := slimIngress(full)
	assert.NoError(t, err)
	slim := out.(*networkingv1.Ingress)
	assert.Empty(t, foreignIngress(slim, "web"))
	assert.NotEmpty(t, foreignIngress(slim, "other"))
	assert.Empty(t, slim.Spec.Rules[0].Host, "only what the check reads is kept")
}
