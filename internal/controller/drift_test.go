package controller

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given a rollout holding 10% on a canary, when someone changes or deletes one of
// the objects rolloutd generated, then the next reconcile restores it and records a
// Warning Drift Event naming the object and the field.
func TestDriftOfAGeneratedObjectIsRepairedAndReported(t *testing.T) {
	cases := []struct {
		name  string
		drift func(h *harness)
		event string // object and field the Event names
		check func(t *testing.T, h *harness)
	}{
		{name: "canary Ingress weight raised to 100", event: "Ingress shop/web-canary: metadata.annotations[" + router.AnnCanaryWeight + "]",
			drift: func(h *harness) {
				ing, err := h.kube.NetworkingV1().Ingresses(ns).Get(h.ctx, "web-canary", metav1.GetOptions{})
				require.NoError(h.t, err)
				ing.Annotations[router.AnnCanaryWeight] = "100"
				_, err = h.kube.NetworkingV1().Ingresses(ns).Update(h.ctx, ing, metav1.UpdateOptions{})
				require.NoError(h.t, err)
			}},
		{name: "canary Ingress deleted", event: "Ingress shop/web-canary: (deleted)",
			drift: func(h *harness) {
				require.NoError(h.t, h.kube.NetworkingV1().Ingresses(ns).Delete(h.ctx, "web-canary", metav1.DeleteOptions{}))
			}},
		{name: "canary Service deleted", event: "Service shop/web-canary: (deleted)",
			drift: func(h *harness) {
				require.NoError(h.t, h.kube.CoreV1().Services(ns).Delete(h.ctx, "web-canary", metav1.DeleteOptions{}))
			},
			check: func(t *testing.T, h *harness) { assert.True(t, h.exists("services", "web-canary")) }},
		{name: "canary Service selector changed", event: "Service shop/web-canary: spec.selector",
			drift: func(h *harness) {
				svc, err := h.kube.CoreV1().Services(ns).Get(h.ctx, "web-canary", metav1.GetOptions{})
				require.NoError(h.t, err)
				svc.Spec.Selector = map[string]string{"app": "web"}
				_, err = h.kube.CoreV1().Services(ns).Update(h.ctx, svc, metav1.UpdateOptions{})
				require.NoError(h.t, err)
			},
			check: func(t *testing.T, h *harness) {
				svc, err := h.kube.CoreV1().Services(ns).Get(h.ctx, "web-canary", metav1.GetOptions{})
				require.NoError(t, err)
				assert.Equal(t, map[string]string{"rolloutd.io/canary-of": "web"}, svc.Spec.Selector)
			}},
		{name: "canary image changed by hand", event: "Deployment shop/web-canary: spec.template",
			drift: func(h *harness) {
				c := h.deployment("web-canary")
				c.Spec.Template.Spec.Containers[0].Image = "web:unvetted"
				_, err := h.kube.AppsV1().Deployments(ns).Update(h.ctx, c, metav1.UpdateOptions{})
				require.NoError(h.t, err)
			},
			check: func(t *testing.T, h *harness) {
				assert.Equal(t, "web:2", h.deployment("web-canary").Spec.Template.Spec.Containers[0].Image)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := atWeight10(t)
			h.sync() // a settled step: the memo holds this split
			require.Empty(t, h.changes(), "a settled step writes nothing")

			tc.drift(h)
			h.sync()

			w, ok := h.ingressWeight()
			assert.True(t, ok, "canary Ingress exists")
			assert.Equal(t, 10, w, "the weight the status records")
			assert.Equal(t, 10, h.status().Weight)
			if tc.check != nil {
				tc.check(t, h)
			}
			evs := h.events()
			assert.True(t, containsPrefix(evs, "Warning "+ReasonDrift+" "+tc.event), "events: %v", evs)
			h.sync()
			assert.Empty(t, h.changes(), "repaired once, then nothing to write")
		})
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// Given a rollout splitting traffic through Ingress web, when rolloutd.io/ingress
// is changed to another Ingress mid-rollout, then the canary Ingress generated for
// the old name is removed and the new one carries the split.
func TestChangingTheIngressMidRolloutRemovesWhatTheOldNameGenerated(t *testing.T) {
	h := atWeight10(t)
	user, err := h.kube.NetworkingV1().Ingresses(ns).Get(h.ctx, "web", metav1.GetOptions{})
	require.NoError(t, err)
	other := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web-public", Namespace: ns}, Spec: user.Spec}
	_, err = h.kube.NetworkingV1().Ingresses(ns).Create(h.ctx, other, metav1.CreateOptions{})
	require.NoError(t, err)
	h.edit(func(d *appsv1.Deployment) { d.Annotations[contract.KeyIngress] = "web-public" })
	h.sync()

	assert.False(t, h.exists("ingresses", "web-canary"), "the old name's canary Ingress is gone")
	w, ok, err := router.Nginx{Client: h.kube}.Weight(h.ctx, router.Target{Namespace: ns, Ingress: "web-public"})
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, 10, w)
}

func TestGeneratorOfNamesTheDeploymentAGeneratedObjectBelongsTo(t *testing.T) {
	gen := map[string]string{contract.ManagedByLabel: contract.ManagedByValue, "rolloutd.io/canary-of": "web"}
	cases := []struct {
		name string
		obj  any
		want string
	}{
		{"generated Service", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web-canary", Labels: gen}}, "web"},
		{"user Service", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}, ""},
		{"label without managed-by", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "x",
			Labels: map[string]string{"rolloutd.io/canary-of": "web"}}}, ""},
		{"user VirtualService carrying routes", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web",
			Annotations: map[string]string{routesOfKey: "web"}}}, "web"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, name := generatorOf(tc.obj)
			assert.Equal(t, tc.want, name)
		})
	}
}

// Given a Deployment whose name is too long for the objects rolloutd generates,
// when it opts in, then it is refused with a Warning Event naming the limit, and
// left running: no canary, not paused.
func TestADeploymentNameTooLongIsRefusedAtOptIn(t *testing.T) {
	objs := userObjects(optedIn())
	long := strings.Repeat("n", 50)
	d := objs[0].(*appsv1.Deployment)
	d.Name = long
	h := newHarness(t, objs...)
	h.settle()
	_, err := h.ctl.Sync(h.ctx, ns+"/"+long)
	require.NoError(t, err)

	got := h.deployment(long)
	assert.False(t, got.Spec.Paused, "a refused Deployment is not held")
	assert.False(t, h.exists("deployments", long+"-canary"))
	evs := h.events()
	require.Len(t, evs, 1)
	assert.Contains(t, evs[0], "Warning "+ReasonInvalidSpec)
	assert.Contains(t, evs[0], "at most 49 characters")
}
