//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// holdAnnotations keep a rollout on its first step (10%) for the whole scenario.
var holdAnnotations = map[string]string{"rolloutd.io/steps": "10,50", "rolloutd.io/interval": "30m"}

// repairTimeout bounds how long a scenario waits for a repair; rolloutd repairs on
// the object's event (about a second), the rest is room for a busy machine.
const repairTimeout = 30 * time.Second

// Given a rollout holding 10% of traffic on a canary, when someone changes or
// deletes an object rolloutd generated (the canary Ingress's weight, the canary
// Ingress, the canary Service, the canary Deployment's image, the routes in the
// user's own VirtualService), then rolloutd restores it from the event, without
// waiting for a step or a resync, and records a Warning Drift Event naming the
// object and the field.
func TestDriftOfGeneratedObjectsIsRepaired(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		router string
		drift  func(ctx context.Context, env *framework.Env, ns string) error
		event  string // the Drift Event names this object and field
		fixed  func(ctx context.Context, env *framework.Env, ns string) (bool, error)
	}{
		{name: "canary Ingress weight set to 100", router: "nginx", event: "Ingress %s/web-canary: metadata.annotations[" + router.AnnCanaryWeight + "]",
			drift: func(ctx context.Context, env *framework.Env, ns string) error {
				return setIngressAnnotation(ctx, env.Kube, ns, "web-canary", router.AnnCanaryWeight, "100")
			},
			fixed: ingressWeightIs(10)},
		{name: "canary Ingress deleted", router: "nginx", event: "Ingress %s/web-canary: (deleted)",
			drift: func(ctx context.Context, env *framework.Env, ns string) error {
				return env.Kube.NetworkingV1().Ingresses(ns).Delete(ctx, "web-canary", metav1.DeleteOptions{})
			},
			fixed: ingressWeightIs(10)},
		{name: "canary Service deleted", router: "nginx", event: "Service %s/web-canary: (deleted)",
			drift: func(ctx context.Context, env *framework.Env, ns string) error {
				return env.Kube.CoreV1().Services(ns).Delete(ctx, "web-canary", metav1.DeleteOptions{})
			},
			fixed: func(ctx context.Context, env *framework.Env, ns string) (bool, error) {
				_, err := env.Kube.CoreV1().Services(ns).Get(ctx, "web-canary", metav1.GetOptions{})
				return err == nil, err
			}},
		{name: "canary image changed by hand", router: "service", event: "Deployment %s/web-canary: spec.template",
			drift: func(ctx context.Context, env *framework.Env, ns string) error {
				// The Deployment controller writes the copy's status meanwhile.
				return retry.RetryOnConflict(retry.DefaultRetry, func() error {
					c, err := env.Kube.AppsV1().Deployments(ns).Get(ctx, "web-canary", metav1.GetOptions{})
					if err != nil {
						return err
					}
					c.Spec.Template.Spec.Containers[0].Image = "example.com/web:unvetted"
					_, err = env.Kube.AppsV1().Deployments(ns).Update(ctx, c, metav1.UpdateOptions{})
					return err
				})
			},
			fixed: func(ctx context.Context, env *framework.Env, ns string) (bool, error) {
				c, err := env.Kube.AppsV1().Deployments(ns).Get(ctx, "web-canary", metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				img := c.Spec.Template.Spec.Containers[0].Image
				return img == "example.com/web:v2", fmt.Errorf("canary image %s", img)
			}},
		{name: "GitOps self-heal of the user's VirtualService drops the routes", router: "istio", event: "VirtualService %s/web: spec.http",
			drift: func(ctx context.Context, env *framework.Env, ns string) error {
				api := env.Dynamic.Resource(router.VirtualServices).Namespace(ns)
				vs, err := api.Get(ctx, "web", metav1.GetOptions{})
				if err != nil {
					return err
				}
				routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
				var user []any
				for _, r := range routes {
					if name, _ := r.(map[string]any)["name"].(string); !strings.HasPrefix(name, router.OwnedRoutePrefix) {
						user = append(user, r)
					}
				}
				if err := unstructured.SetNestedSlice(vs.Object, user, "spec", "http"); err != nil {
					return err
				}
				_, err = api.Update(ctx, vs, metav1.UpdateOptions{})
				return err
			},
			fixed: func(ctx context.Context, env *framework.Env, ns string) (bool, error) {
				vs, err := env.Dynamic.Resource(router.VirtualServices).Namespace(ns).Get(ctx, "web", metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				w, total := splitWeights(vs, "web-canary")
				return w == 10 && total == 100, fmt.Errorf("split route canary weight %d of %d", w, total)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, ns := watchedScenario(t)
			a := app{name: "web", replicas: 3, router: tc.router, rps: 50, annotations: holdAnnotations}
			if tc.router == "istio" {
				createUserVirtualService(t, env, ns, a.name)
			}
			a.create(t, env.Kube, ns)
			release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)
			holdAtFirstStep(t, env, ns, tc.fixed)

			require.NoError(t, tc.drift(t.Context(), env, ns))
			start := time.Now()
			framework.Eventually(t, repairTimeout, "the drifted object restored", func() (bool, error) {
				return tc.fixed(t.Context(), env, ns)
			})
			t.Logf("repaired %s after %v", tc.name, time.Since(start).Round(time.Millisecond))
			want := fmt.Sprintf(tc.event, ns)
			framework.Eventually(t, repairTimeout, "a Warning Drift Event naming "+want, func() (bool, error) {
				return hasEvent(t.Context(), env, ns, corev1.EventTypeWarning, "Drift", want)
			})
			st, _ := readStatus(t, env.Kube, ns, a.name)
			require.Equal(t, contract.Progressing, st.Phase, st.Message)
			require.Equal(t, 10, st.Weight)
		})
	}
}

// holdAtFirstStep waits until the rollout holds its first step with every generated
// object in place (ready says the object a case drifts is as rolloutd wants it).
func holdAtFirstStep(t *testing.T, env *framework.Env, ns string, ready func(context.Context, *framework.Env, string) (bool, error)) {
	t.Helper()
	framework.Eventually(t, rolloutTimeout, "web holding 10% on its canary", func() (bool, error) {
		st, _ := readStatus(t, env.Kube, ns, "web")
		if st.Phase != contract.Progressing || st.Weight != 10 {
			return false, fmt.Errorf("phase %s weight %d: %s", st.Phase, st.Weight, st.Message)
		}
		return ready(t.Context(), env, ns)
	})
}

func ingressWeightIs(want int) func(context.Context, *framework.Env, string) (bool, error) {
	return func(ctx context.Context, env *framework.Env, ns string) (bool, error) {
		w, found, err := env.IngressCanaryWeight(ctx, ns, "web-canary")
		if err != nil {
			return false, err
		}
		return found && w == want, fmt.Errorf("canary Ingress found %t weight %d", found, w)
	}
}

// hasEvent reports whether ns holds an Event of that type and reason whose message
// contains text.
func hasEvent(ctx context.Context, env *framework.Env, ns, kind, reason, text string) (bool, error) {
	evs, err := env.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, err
	}
	var seen []string
	for _, e := range evs.Items {
		if e.Type == kind && e.Reason == reason && strings.Contains(e.Message, text) {
			return true, nil
		}
		seen = append(seen, e.Reason+": "+e.Message)
	}
	return false, fmt.Errorf("events: %v", seen)
}

// Given a rollout splitting traffic through the user's Ingress web, when
// rolloutd.io/ingress is changed to another Ingress mid-rollout, then the canary
// Ingress generated for the old name is removed (it would keep sending its share
// to the canary) and the new Ingress carries the split.
func TestChangingTheIngressMidRolloutRemovesTheOldCanaryIngress(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := app{name: "web", replicas: 3, router: "nginx", rps: 50, annotations: holdAnnotations}
	a.create(t, env.Kube, ns)
	release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)
	holdAtFirstStep(t, env, ns, ingressWeightIs(10))

	user, err := env.Kube.NetworkingV1().Ingresses(ns).Get(t.Context(), "web", metav1.GetOptions{})
	require.NoError(t, err)
	public := user.DeepCopy()
	public.ObjectMeta = metav1.ObjectMeta{Name: "web-public", Namespace: ns}
	public.Spec.Rules[0].Host = "public.example.com"
	_, err = env.Kube.NetworkingV1().Ingresses(ns).Create(t.Context(), public, metav1.CreateOptions{})
	require.NoError(t, err)
	annotateDeployment(t, env.Kube, ns, a.name, "rolloutd.io/ingress", "web-public")

	framework.Eventually(t, repairTimeout, "web-canary removed, web-public-canary at 10%", func() (bool, error) {
		_, err := env.Kube.NetworkingV1().Ingresses(ns).Get(t.Context(), "web-canary", metav1.GetOptions{})
		oldGone := apierrors.IsNotFound(err)
		w, found, err := env.IngressCanaryWeight(t.Context(), ns, "web-public-canary")
		if err != nil {
			return false, err
		}
		return oldGone && found && w == 10, fmt.Errorf("old canary Ingress gone %t; new found %t weight %d", oldGone, found, w)
	})
}

// Given a rollout holding 10% through the user's own VirtualService, when the
// Deployment is deleted, or deleted and created again (the usual way to change a
// selector), then the rolloutd- routes are removed from the user's VirtualService:
// they would send that share to a canary host that no longer exists.
func TestDeletingTheDeploymentMidRolloutResetsTheUsersRoutes(t *testing.T) {
	t.Parallel()
	for _, recreate := range []bool{false, true} {
		t.Run(fmt.Sprintf("recreated %t", recreate), func(t *testing.T) {
			t.Parallel()
			env, ns := watchedScenario(t)
			a := app{name: "web", replicas: 3, router: "istio", rps: 50, annotations: holdAnnotations}
			createUserVirtualService(t, env, ns, a.name)
			a.create(t, env.Kube, ns)
			release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)
			holdAtFirstStep(t, env, ns, func(ctx context.Context, env *framework.Env, ns string) (bool, error) {
				vs, err := env.Dynamic.Resource(router.VirtualServices).Namespace(ns).Get(ctx, "web", metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				w, _ := splitWeights(vs, "web-canary")
				return w == 10, fmt.Errorf("split weight %d", w)
			})

			deleteMidRollout(t, env, ns, a, recreate)
			framework.Eventually(t, repairTimeout, "no rolloutd- route left in the user's VirtualService", func() (bool, error) {
				vs, err := env.Dynamic.Resource(router.VirtualServices).Namespace(ns).Get(t.Context(), "web", metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
				for _, r := range routes {
					if name, _ := r.(map[string]any)["name"].(string); strings.HasPrefix(name, router.OwnedRoutePrefix) {
						return false, fmt.Errorf("route %s still there", name)
					}
				}
				return len(routes) == 2, fmt.Errorf("%d routes", len(routes))
			})
		})
	}
}

// Given a rollout holding 10% through the user's own HTTPRoute (router gateway),
// when the Deployment is deleted, or deleted and created again, then the route is
// the user's as written again: its canary backendRef would send that share to a
// Service that no longer exists, which a Gateway answers with 500.
func TestDeletingTheDeploymentMidRolloutResetsTheUsersHTTPRoute(t *testing.T) {
	t.Parallel()
	for _, recreate := range []bool{false, true} {
		t.Run(fmt.Sprintf("recreated %t", recreate), func(t *testing.T) {
			t.Parallel()
			env, ns := watchedScenario(t)
			gw := gatewayClient(t, env)
			a := app{name: "web", replicas: 3, router: "gateway", rps: 50, annotations: holdAnnotations}
			written := gatewayApp(t, env, gw, ns, a)
			release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)
			holdAtFirstStep(t, env, ns, func(ctx context.Context, _ *framework.Env, ns string) (bool, error) {
				r, err := gw.GatewayV1().HTTPRoutes(ns).Get(ctx, a.name, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				w, ok := router.GatewayCanaryWeight(r.Spec.Rules, a.name, contract.CanaryName(a.name))
				return ok && w == 10, fmt.Errorf("canary backendRef %t weight %d", ok, w)
			})

			deleteMidRollout(t, env, ns, a, recreate)
			requireRouteAsWritten(t, gw, written)
		})
	}
}

// deleteMidRollout deletes a's Deployment (in the foreground) and, with recreate,
// creates it again once it is gone.
func deleteMidRollout(t *testing.T, env *framework.Env, ns string, a app, recreate bool) {
	t.Helper()
	policy := metav1.DeletePropagationForeground
	require.NoError(t, env.Kube.AppsV1().Deployments(ns).Delete(t.Context(), a.name, metav1.DeleteOptions{PropagationPolicy: &policy}))
	if !recreate {
		return
	}
	framework.Eventually(t, time.Minute, "the Deployment gone", func() (bool, error) {
		_, err := env.Kube.AppsV1().Deployments(ns).Get(t.Context(), a.name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	_, err := env.Kube.AppsV1().Deployments(ns).Create(t.Context(), a.deployment(ns), metav1.CreateOptions{})
	require.NoError(t, err)
}
