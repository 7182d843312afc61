//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given two teams in one namespace, when the owner of Deployment web names the
// other team's Service (router service) or Ingress (router nginx) in its
// annotations and releases, then the spec is refused with a Warning Event naming
// the mismatch, nothing starts, and no canary object is created: a canary never
// takes a share of another team's traffic.
func TestRoutingObjectsOfAnotherDeploymentAreRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		router string
		ann    map[string]string
		want   string // in the Event's message
	}{
		{name: "another team's Service", router: "service",
			ann: map[string]string{"rolloutd.io/service": "payments"}, want: "does not select the pods of web"},
		{name: "another team's Ingress", router: "nginx",
			ann: map[string]string{"rolloutd.io/ingress": "payments"}, want: "sends no traffic to service web"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, ns := watchedScenario(t)
			other := app{name: "payments", replicas: 2, router: "nginx", rps: 50}
			d := other.deployment(ns)
			delete(d.Annotations, "rolloutd.io/enabled") // the other team does not use rolloutd
			_, err := env.Kube.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{})
			require.NoError(t, err)
			other.createService(t, env.Kube, ns)
			other.createIngress(t, env.Kube, ns)

			a := app{name: "web", replicas: 2, router: tc.router, rps: 50, annotations: tc.ann}
			a.create(t, env.Kube, ns)
			release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)

			requireEventMessage(t, env, ns, a.name, "RoutingUnavailable", tc.want)
			consistently(t, 5*time.Second, "nothing starts", func() error {
				st, _ := readStatus(t, env.Kube, ns, a.name)
				if st.Phase != contract.Idle {
					return fmt.Errorf("phase %s: %s", st.Phase, st.Message)
				}
				for _, err := range []error{
					get(env.Kube.AppsV1().Deployments(ns).Get(context.Background(), "web-canary", metav1.GetOptions{})),
					get(env.Kube.CoreV1().Services(ns).Get(context.Background(), "web-canary", metav1.GetOptions{})),
					get(env.Kube.NetworkingV1().Ingresses(ns).Get(context.Background(), "payments-canary", metav1.GetOptions{})),
				} {
					if !apierrors.IsNotFound(err) {
						return fmt.Errorf("a canary object exists (%v)", err)
					}
				}
				return nil
			})
		})
	}
}

// get keeps only the error of a Get.
func get[T any](_ T, err error) error { return err }
