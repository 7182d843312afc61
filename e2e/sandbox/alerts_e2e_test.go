//go:build e2e

package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rolloutd/rolloutd/e2e/framework"
)

// amAlert is one alert of Alertmanager's webhook payload (version 4).
type amAlert struct {
	Status string            `json:"status"`
	Labels map[string]string `json:"labels"`
}

type amPayload struct {
	Version string    `json:"version"`
	Status  string    `json:"status"`
	Alerts  []amAlert `json:"alerts"`
}

// receiver is a local webhook endpoint that insists on the sandbox's bearer
// token and hands over every alert it receives.
type receiver struct {
	srv    *httptest.Server
	alerts chan amAlert
}

func newReceiver(t *testing.T, token string) *receiver {
	t.Helper()
	r := &receiver{alerts: make(chan amAlert, 256)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if got := req.Header.Get("Authorization"); got != "Bearer "+token {
			t.Errorf("webhook called with Authorization %q, want the sandbox token", got)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var p amPayload
		if err := json.NewDecoder(req.Body).Decode(&p); err != nil || p.Version != "4" {
			t.Errorf("webhook payload: version %q, error %v", p.Version, err)
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		for _, a := range p.Alerts {
			select {
			case r.alerts <- a:
			default:
			}
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// waitFiring waits for a firing alert with the given name and namespace.
func (r *receiver) waitFiring(t *testing.T, timeout time.Duration, name, ns string) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case a := <-r.alerts:
			if a.Status == "firing" && a.Labels["alertname"] == name && a.Labels["namespace"] == ns {
				return
			}
		case <-deadline:
			t.Fatalf("no firing %s alert for namespace %s reached the webhook within %s", name, ns, timeout)
		}
	}
}

func sandboxToken(t *testing.T, env *framework.Env) string {
	t.Helper()
	b, err := os.ReadFile(env.WebhookTokenFile)
	if err != nil {
		t.Fatalf("read the webhook token: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// Given Alertmanager pointed at a local receiver, when a firing alert is
// posted to it, then the receiver gets it with the bearer token within a few
// seconds.
func TestSandboxAlertmanagerDeliversFiringAlert(t *testing.T) {
	t.Parallel()
	env := framework.Get(t)
	ns := env.Namespace(t)
	r := newReceiver(t, sandboxToken(t, env))
	env.SetAlertmanagerWebhook(t, r.srv.URL+"/webhooks/alertmanager", "")

	labels := map[string]string{"alertname": "SandboxTestAlert", "namespace": ns, "deployment": "web", "severity": "critical"}
	sent := time.Now()
	postAlert(t, env, labels, time.Now().Add(5*time.Minute))
	t.Cleanup(func() { postAlert(t, env, labels, time.Now()) }) // resolve it
	r.waitFiring(t, 5*time.Second, "SandboxTestAlert", ns)
	t.Logf("alert delivered %.2fs after it was posted", time.Since(sent).Seconds())
}

// Given a Prometheus alerting rule written by a test, then its alert goes
// through Alertmanager to the test's receiver within a few seconds.
func TestSandboxPrometheusRuleAlertReachesWebhook(t *testing.T) {
	t.Parallel()
	env := framework.Get(t)
	ns := env.Namespace(t)
	r := newReceiver(t, sandboxToken(t, env))
	env.SetAlertmanagerWebhook(t, r.srv.URL+"/webhooks/alertmanager", "")

	env.WriteRule(t, ns, fmt.Sprintf(`groups:
- name: %[1]s
  rules:
  - alert: SandboxRuleAlert
    expr: vector(1)
    labels:
      namespace: %[1]s
      deployment: web
`, ns))
	written := time.Now()
	r.waitFiring(t, 10*time.Second, "SandboxRuleAlert", ns)
	t.Logf("rule alert delivered %.2fs after the rule was loaded", time.Since(written).Seconds())
}

func postAlert(t *testing.T, env *framework.Env, labels map[string]string, endsAt time.Time) {
	t.Helper()
	body, err := json.Marshal([]map[string]any{{
		"labels":   labels,
		"startsAt": time.Now().Add(-time.Second).Format(time.RFC3339Nano),
		"endsAt":   endsAt.Format(time.RFC3339Nano),
	}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(env.AlertmanagerURL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("post alert: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("post alert: %s", resp.Status)
	}
}
