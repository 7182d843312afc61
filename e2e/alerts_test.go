//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// alertDaemon starts a daemon with the webhook enabled and points the sandbox's
// Alertmanager at it (tests doing this are serialised by the framework).
func alertDaemon(t *testing.T, env *framework.Env, ns string, extra map[string]string) *framework.Daemon {
	t.Helper()
	opts := framework.DaemonOptions{Namespaces: []string{ns},
		Env: map[string]string{"ROLLOUTD_WEBHOOK_TOKEN_FILE": env.WebhookTokenFile}}
	for k, v := range extra {
		opts.Env[k] = v
	}
	d := env.StartDaemon(t, opts)
	env.SetAlertmanagerWebhook(t, d.URL()+"/webhooks/alertmanager", "")
	return d
}

// alertRule is a Prometheus rule labelled with the Deployment, so Alertmanager's
// webhook maps it to that Deployment.
func alertRule(ns, deployment, name, expr string) string {
	return fmt.Sprintf(`groups:
- name: %[3]s
  interval: 1s
  rules:
  - alert: %[3]s
    expr: %[4]s
    labels:
      namespace: %[1]s
      deployment: %[2]s
      severity: critical
`, ns, deployment, name, expr)
}

// Given a rollout whose gates would pass (only a CPU check, long interval), when a
// Prometheus rule on the user-facing error rate fires, then Alertmanager's webhook
// rolls the canary back at once, naming the alert.
func TestAlertDuringRolloutRollsBack(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	a := app{name: "checkout", replicas: 3, router: "nginx", rps: 200, annotations: map[string]string{
		"rolloutd.io/checks": "cpu<=2x", "rolloutd.io/interval": "2m"}}
	alertDaemon(t, env, ns, nil)
	a.create(t, env.Kube, ns)
	expr := fmt.Sprintf(`sum(rate(nginx_ingress_controller_requests{namespace=%q,status=~"5.."}[10s])) / sum(rate(nginx_ingress_controller_requests{namespace=%q}[10s])) > 0.01`, ns, ns)
	env.WriteRule(t, ns+"-errors", alertRule(ns, a.name, "CheckoutErrors", expr))

	release(t, env.Kube, ns, a.name, "example.com/checkout:bad", map[string]string{"sim.rolloutd.io/error-rate": "0.3"})

	st := requireEnds(t, env.Kube, ns, a.name, 2*time.Minute, contract.RolledBack)
	assert.Equal(t, contract.ReasonAlert, st.Reason)
	assert.Contains(t, st.Message, "CheckoutErrors")
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	assert.Equal(t, "example.com/checkout:v1", runningImage(t, env.Kube, ns, a.name))
}

// Given a promoted release, when an alert for the Deployment fires inside the
// rollback window, then the previous revision is restored; outside the window
// only an Event records it.
func TestAlertAfterPromotion(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		window   string
		restored bool
	}{{"inside the window restores the previous revision", "30m", true}, {"outside the window only records it", "1s", false}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, ns := namespaceScenario(t)
			a := app{name: "promo", replicas: 3, router: "nginx", rps: 200, annotations: map[string]string{
				"rolloutd.io/steps": "50", "rolloutd.io/interval": "3s", "rolloutd.io/rollback-window": tc.window}}
			alertDaemon(t, env, ns, nil)
			a.create(t, env.Kube, ns)
			release(t, env.Kube, ns, a.name, "example.com/promo:v2", nil)
			require.Equal(t, contract.Succeeded, waitPhase(t, env.Kube, ns, a.name, 2*time.Minute, contract.Succeeded, contract.RolledBack).Phase)
			framework.Eventually(t, time.Minute, "stable runs v2", func() (bool, error) {
				return runningImage(t, env.Kube, ns, a.name) == "example.com/promo:v2", nil
			})

			env.WriteRule(t, ns+"-burning", alertRule(ns, a.name, "PromoBurning", "vector(1)"))

			if tc.restored {
				st := waitPhase(t, env.Kube, ns, a.name, 2*time.Minute, contract.RolledBack)
				assert.Equal(t, contract.ReasonAlert, st.Reason)
				framework.Eventually(t, time.Minute, "stable runs v1 again", func() (bool, error) {
					return runningImage(t, env.Kube, ns, a.name) == "example.com/promo:v1", nil
				})
				_, d := readStatus(t, env.Kube, ns, a.name)
				assert.True(t, d.Spec.Paused, "paused again once restored")
				return
			}
			framework.Eventually(t, 90*time.Second, "AlertIgnored event", func() (bool, error) {
				evs, err := env.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
				if err != nil {
					return false, err
				}
				for _, e := range evs.Items {
					if e.Reason == contract.ReasonAlertIgnored {
						return true, nil
					}
				}
				return false, nil
			})
			st, _ := readStatus(t, env.Kube, ns, a.name)
			assert.Equal(t, contract.Succeeded, st.Phase)
			assert.Equal(t, "example.com/promo:v2", runningImage(t, env.Kube, ns, a.name))
		})
	}
}

// An unauthenticated or malformed webhook request is refused and changes nothing.
func TestWebhookRefusesUnauthenticatedRequests(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	d := env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns},
		Env: map[string]string{"ROLLOUTD_WEBHOOK_TOKEN_FILE": env.WebhookTokenFile}})
	a := app{name: "quiet", replicas: 2, router: "service", rps: 50, annotations: map[string]string{"rolloutd.io/interval": "2m"}}
	a.create(t, env.Kube, ns)
	release(t, env.Kube, ns, a.name, "example.com/quiet:v2", nil)
	waitPhase(t, env.Kube, ns, a.name, time.Minute, contract.Progressing)

	payload := fmt.Sprintf(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"X","namespace":%q,"deployment":%q},"startsAt":%q,"fingerprint":"abc"}]}`,
		ns, a.name, time.Now().UTC().Format(time.RFC3339))
	for _, tc := range []struct {
		auth string
		body string
		want int
	}{
		{"", payload, http.StatusUnauthorized},
		{"Bearer wrong", payload, http.StatusUnauthorized},
		{"Bearer " + readToken(t, env.WebhookTokenFile), "{not json", http.StatusBadRequest},
	} {
		req, err := http.NewRequest(http.MethodPost, d.URL()+"/webhooks/alertmanager", bytes.NewBufferString(tc.body))
		require.NoError(t, err)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, tc.want, resp.StatusCode, "auth %q", tc.auth)
	}
	consistently(t, 3*time.Second, "nothing changed", func() error {
		st, dep := readStatus(t, env.Kube, ns, a.name)
		if st.Phase != contract.Progressing {
			return fmt.Errorf("phase %s", st.Phase)
		}
		if _, marked := dep.Annotations["rolloutd.io/alert"]; marked {
			return fmt.Errorf("deployment marked by a refused request")
		}
		return nil
	})
}

func readToken(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}
