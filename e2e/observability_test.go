//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// receiver is a local generic-webhook endpoint that keeps every notification.
type receiver struct {
	mu   sync.Mutex
	msgs []notification
}

type notification struct {
	Kind       string `json:"kind"`
	Deployment string `json:"deployment"`
	Namespace  string `json:"namespace"`
	Revision   string `json:"revision"`
	Phase      string `json:"phase"`
	Reason     string `json:"reason"`
	Message    string `json:"message"`
	Checks     []struct {
		Name    string `json:"name"`
		Verdict string `json:"verdict"`
	} `json:"checks"`
}

// startReceiver serves on 127.0.0.1 and writes its URL to a file, as a mounted
// Secret would hold it, returning the receiver and the file.
func startReceiver(t *testing.T) (*receiver, string) {
	t.Helper()
	rc := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.msgs = append(rc.msgs, n)
		rc.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "webhook-url")
	require.NoError(t, os.WriteFile(file, []byte(srv.URL+"/hooks/release"), 0o600))
	return rc, file
}

func (rc *receiver) kinds() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return collect(rc.msgs, func(n notification) string { return n.Kind })
}

func (rc *receiver) last() notification {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.msgs[len(rc.msgs)-1]
}

// eventReasons lists the reasons of the Events on a Deployment in the order they
// were created (an Event's name ends with its creation time in hex nanoseconds).
func eventReasons(t *testing.T, env *framework.Env, ns, name string) []string {
	t.Helper()
	list, err := env.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: fields.Set{"involvedObject.kind": "Deployment", "involvedObject.name": name}.String()})
	require.NoError(t, err)
	created := func(ev corev1.Event) uint64 {
		n, _ := strconv.ParseUint(ev.Name[strings.LastIndex(ev.Name, ".")+1:], 16, 64)
		return n
	}
	sort.Slice(list.Items, func(i, j int) bool { return created(list.Items[i]) < created(list.Items[j]) })
	var out []string
	for _, ev := range list.Items {
		out = append(out, ev.Reason)
	}
	return out
}

// waitEventsInOrder waits until name's Events contain want in this order (other
// reasons may come between). Events are recorded after the status write that a
// phase shows, so they may come a moment after it.
func waitEventsInOrder(t *testing.T, env *framework.Env, ns, name string, want ...string) {
	t.Helper()
	framework.Eventually(t, 30*time.Second, "Events in order", func() (bool, error) {
		got := eventReasons(t, env, ns, name)
		return inOrder(got, want), fmt.Errorf("events %v do not contain %v in order", got, want)
	})
}

// inOrder reports whether got contains want as a subsequence.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// waitSeries waits until the sandbox Prometheus returns at least one series for q.
func waitSeries(t *testing.T, env *framework.Env, q string) {
	t.Helper()
	framework.Eventually(t, time.Minute, "series "+q, func() (bool, error) {
		vec, err := env.PromVector(context.Background(), q)
		return err == nil && len(vec) > 0, err
	})
}

// requireLiveMetricsLint runs promlint over the daemon's own /metrics.
func requireLiveMetricsLint(t *testing.T, d *framework.Daemon) {
	t.Helper()
	body, err := d.Metrics(t.Context())
	require.NoError(t, err)
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	require.NoError(t, err)
	for _, p := range problems {
		assert.False(t, strings.HasPrefix(p.Metric, "rolloutd_"), "promlint: %s: %s", p.Metric, p.Text)
	}
}

// Given an opted-in Deployment and a daemon with a JSON webhook, when a healthy
// version is released, then Events say Progressing … Promoted in order, the
// receiver gets Started then Promoted, the sandbox Prometheus has the rollout's
// series, and every per-Deployment dashboard panel returns data.
func TestObservabilityGoodRelease(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	rc, urlFile := startReceiver(t)
	d := env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns},
		Env: map[string]string{"ROLLOUTD_NOTIFY_WEBHOOK_URL_FILE": urlFile}})
	a := app{name: "obs", replicas: 3, router: "nginx", rps: 200}
	a.create(t, env.Kube, ns)

	release(t, env.Kube, ns, a.name, "example.com/obs:v2", nil)

	st := requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded)
	waitEventsInOrder(t, env, ns, a.name, "Progressing", "StepAdvanced", "GatePassed", "Promoting", "Promoted")
	framework.Eventually(t, 30*time.Second, "notifications Started, Promoted", func() (bool, error) {
		k := rc.kinds()
		return len(k) == 2, fmt.Errorf("got %v", k)
	})
	assert.Equal(t, []string{"Started", "Promoted"}, rc.kinds())
	assert.Equal(t, st.Revision, rc.last().Revision)
	assert.Equal(t, ns, rc.last().Namespace)
	require.NotNil(t, st.Condition(contract.ConditionPromoted))
	assert.Equal(t, metav1.ConditionTrue, st.Condition(contract.ConditionPromoted).Status)

	sel := fmt.Sprintf(`namespace=%q,deployment=%q`, ns, a.name)
	waitSeries(t, env, fmt.Sprintf(`rolloutd_rollout_info{%s,revision=%q,strategy="canary",router="nginx"} == 1`, sel, st.Revision))
	waitSeries(t, env, fmt.Sprintf(`rolloutd_rollout_phase{%s,phase="Succeeded"} == 1`, sel))
	waitSeries(t, env, fmt.Sprintf(`max_over_time(rolloutd_canary_weight_percent{%s}[10m]) >= 50`, sel))
	waitSeries(t, env, fmt.Sprintf(`rolloutd_check_verdict{%s,verdict="Pass"} == 1`, sel))
	waitSeries(t, env, fmt.Sprintf(`rolloutd_check_baseline{%s}`, sel))
	waitSeries(t, env, fmt.Sprintf(`rolloutd_rollout_duration_seconds_count{test=%q,result="Succeeded"} == 1`, t.Name()))
	waitSeries(t, env, fmt.Sprintf(`rolloutd_gate_duration_seconds_count{test=%q} >= 5`, t.Name()))
	waitSeries(t, env, fmt.Sprintf(`rolloutd_notifications_total{test=%q,channel="webhook",result="sent"} == 2`, t.Name()))
	requireDashboardQueriesReturnData(t, env, ns, a.name)
	requireLiveMetricsLint(t, d)
}

// Given the same set-up, when a version with 10% errors is released, then Events
// say Progressing, then GateFailed or CheckFailed (whichever of the gates and the
// continuous judge failed error-rate first), then RolledBack, the receiver gets Started then
// RolledBack naming the failing error-rate check, and Prometheus shows the check's
// canary value above its baseline with a Fail verdict.
func TestObservabilityBadRelease(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	rc, urlFile := startReceiver(t)
	env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns},
		Env: map[string]string{"ROLLOUTD_NOTIFY_WEBHOOK_URL_FILE": urlFile}})
	a := app{name: "obsbad", replicas: 3, router: "nginx", rps: 200}
	a.create(t, env.Kube, ns)

	release(t, env.Kube, ns, a.name, "example.com/obsbad:bad", map[string]string{"sim.rolloutd.io/error-rate": "0.1"})

	st := requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.RolledBack)
	require.Contains(t, []string{"GateFailed", "CheckFailed"}, st.Reason)
	waitEventsInOrder(t, env, ns, a.name, "Progressing", st.Reason, "RolledBack")
	framework.Eventually(t, 30*time.Second, "notifications Started, RolledBack", func() (bool, error) {
		k := rc.kinds()
		return len(k) == 2, fmt.Errorf("got %v", k)
	})
	assert.Equal(t, []string{"Started", "RolledBack"}, rc.kinds())
	rb := rc.last()
	assert.Equal(t, st.Reason, rb.Reason)
	assert.Contains(t, rb.Message, "error-rate")
	failing := []string{}
	for _, c := range rb.Checks {
		if c.Verdict == "Fail" {
			failing = append(failing, c.Name)
		}
	}
	assert.Contains(t, strings.Join(failing, ","), "error-rate", "the failing check is named")
	require.NotNil(t, st.Condition(contract.ConditionHealthy))
	assert.Equal(t, metav1.ConditionFalse, st.Condition(contract.ConditionHealthy).Status)

	sel := fmt.Sprintf(`namespace=%q,deployment=%q`, ns, a.name)
	waitSeries(t, env, fmt.Sprintf(`rolloutd_rollout_phase{%s,phase="RolledBack"} == 1`, sel))
	waitSeries(t, env, fmt.Sprintf(`rolloutd_check_verdict{%s,check=~"error-rate.*",verdict="Fail"} == 1`, sel))
	waitSeries(t, env, fmt.Sprintf(`rolloutd_check_value{%s,check=~"error-rate.*"} > on(namespace, deployment, check) rolloutd_check_baseline{%s,check=~"error-rate.*"}`, sel, sel))
	waitSeries(t, env, fmt.Sprintf(`rolloutd_rollout_duration_seconds_count{test=%q,result="RolledBack"} == 1`, t.Name()))
	waitSeries(t, env, fmt.Sprintf(`rolloutd_rollbacks_total{test=%q,reason=%q} == 1`, t.Name(), st.Reason))
}

var dashboardVar = regexp.MustCompile(`\$(__rate_interval|__range|namespace|deployment|check)\b`)

// requireDashboardQueriesReturnData runs every query of the chart's dashboard with
// the variables set to this Deployment: all must run, and every panel about one
// Deployment must return data.
func requireDashboardQueriesReturnData(t *testing.T, env *framework.Env, ns, name string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "charts", "rolloutd", "dashboards", "rolloutd.json"))
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	vars := map[string]string{"__rate_interval": "30s", "__range": "10m", "namespace": ns, "deployment": name, "check": ".*"}
	for _, p := range dash.Panels {
		perDeployment := false
		data := false
		for _, tg := range p.Targets {
			perDeployment = perDeployment || strings.Contains(tg.Expr, "$deployment")
			q := dashboardVar.ReplaceAllStringFunc(tg.Expr, func(m string) string { return vars[m[1:]] })
			vec, err := env.PromVector(context.Background(), q)
			require.NoError(t, err, "panel %q", p.Title)
			data = data || len(vec) > 0
		}
		if perDeployment {
			assert.True(t, data, "panel %q returns no data for %s/%s", p.Title, ns, name)
		}
	}
}
