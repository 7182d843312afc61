//go:build e2e

package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// latencyChecks are the default checks plus a p99 bound, so that every regression
// below has a check that can see it.
const latencyChecks = "error-rate<=1%+baseline, cpu<=1.3x, memory<=1.3x, load<=1.5x, latency-p99<=1.5x"

// Given an opted-in Deployment behind an Ingress at 200 requests/s, when a release
// regresses one metric, then it is rolled back by that metric's check, which the
// status names with a failed verdict and its figures.
func TestAnalysisRegressionIsRolledBackByItsCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		check  string
		podAnn map[string]string
	}{
		// 0.3 cores against the default 0.1: 3x, over cpu<=1.3x.
		{"cpu", "cpu", map[string]string{"sim.rolloutd.io/cpu": "0.3"}},
		// 512Mi a minute on 128Mi crosses memory<=1.3x within ~5s of the pod starting.
		{"memory-leak", "memory", map[string]string{"sim.rolloutd.io/memory-growth": "512Mi"}},
		// 0.9 against the default 0.3: 3x, over load<=1.5x.
		{"load", "load", map[string]string{"sim.rolloutd.io/load": "0.9"}},
		// p99 400ms against the default 80ms, over latency-p99<=1.5x.
		{"latency", "latency-p99", map[string]string{"sim.rolloutd.io/latency-ms": "40,400"}},
		// 20% errors against the default 0.1%, over error-rate<=1%+baseline. At
		// 5% a 5s gate sees about 60 canary requests and, now and then, none of
		// them failing, so the third failed gate could be a noisy latency-p99's.
		{"error-rate", "error-rate", map[string]string{"sim.rolloutd.io/error-rate": "0.2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, ns := watchedScenario(t)
			a := app{name: "web", replicas: 3, router: "nginx", rps: 200,
				annotations: map[string]string{"rolloutd.io/checks": latencyChecks}}
			a.create(t, env.Kube, ns)
			phases := watchPhases(t, env.Kube, ns, a.name)

			release(t, env.Kube, ns, a.name, "example.com/web:"+tc.name, tc.podAnn)

			st := requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.RolledBack)
			t.Logf("rolled back: %s", st.Message)
			assert.Contains(t, st.Message, tc.check+": ", "the rollback names the check")
			c := findCheck(st.Checks, tc.check)
			require.NotNil(t, c, "status checks %+v", st.Checks)
			assert.Equal(t, contract.Fail, c.Verdict, "reason: %s", c.Reason)
			assert.NotNil(t, c.Value, "the canary's figure is in the status")
			assert.NotNil(t, c.Baseline, "the stable's figure is in the status")
			assert.NotEmpty(t, c.Reason)
			assert.NotContains(t, phases.seen(), contract.Promoting)
			requireNoCanaryObjects(t, env.Kube, ns, a.name)
		})
	}
}

// Given checks with a latency bound and a custom PromQL check from a ConfigMap, when
// a healthy release (the simulator's default behaviour with its noise) goes out,
// then it is promoted, the custom check having passed.
func TestAnalysisHealthyReleaseWithNoiseIsPromoted(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	_, err := env.Kube.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "web-analysis"},
		Data: map[string]string{"canary-requests": `query: sum(increase(nginx_ingress_controller_requests{namespace="{{.Namespace}}",ingress="{{.Ingress}}",canary!=""}[{{.Window}}]))
max: 1000000`},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	a := app{name: "web", replicas: 3, router: "nginx", rps: 200, annotations: map[string]string{
		"rolloutd.io/checks": latencyChecks, "rolloutd.io/analysis": "web-analysis"}}
	a.create(t, env.Kube, ns)

	release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)

	st := requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded)
	framework.Eventually(t, time.Minute, "stable runs v2", func() (bool, error) {
		return runningImage(t, env.Kube, ns, a.name) == "example.com/web:v2", nil
	})
	// A gate may fail on noise (a p99 from ~100 canary requests in a 5s window);
	// the threshold absorbs it. The custom check ran and passed at the last gate.
	c := findCheck(st.Checks, "canary-requests")
	require.NotNil(t, c, "status checks %+v", st.Checks)
	assert.Equal(t, contract.Pass, c.Verdict, "reason: %s", c.Reason)
	assert.NotNil(t, c.Value)
}

// Given an analysis ConfigMap name that does not exist, when a release goes out,
// then every gate fails naming the ConfigMap and the release is rolled back: a
// custom check that cannot run never passes.
func TestAnalysisMissingConfigMapRollsBack(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := app{name: "web", replicas: 3, router: "nginx", rps: 200,
		annotations: map[string]string{"rolloutd.io/analysis": "no-such-config"}}
	a.create(t, env.Kube, ns)

	release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)

	st := requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.RolledBack)
	assert.Contains(t, st.Message, "ConfigMap "+ns+"/no-such-config")
	framework.Eventually(t, 30*time.Second, "InvalidAnalysis Warning Event", func() (bool, error) {
		evs, err := env.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("reason", "InvalidAnalysis").String()})
		return err == nil && len(evs.Items) > 0 && strings.Contains(evs.Items[0].Message, "no-such-config"), err
	})
}

// Given a daemon reading Prometheus through a proxy, when the proxy starts dropping
// every connection at step 2, then the rollout never reaches Promoting and is
// rolled back after the threshold with a reason naming the query error.
func TestAnalysisPrometheusUnreachableNeverPromotes(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	proxy := newPromProxy(t, env.PromURL)
	env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns},
		Env: map[string]string{"ROLLOUTD_PROMETHEUS_URL": proxy.URL, "ROLLOUTD_QUERY_TIMEOUT": "2s"}})
	a := app{name: "web", replicas: 3, router: "nginx", rps: 200}
	a.create(t, env.Kube, ns)
	phases := watchPhases(t, env.Kube, ns, a.name)

	release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)
	framework.Eventually(t, time.Minute, "rollout at step 2", func() (bool, error) {
		st, _ := readStatus(t, env.Kube, ns, a.name)
		return st.Step >= 2 && st.Phase == contract.Progressing, nil
	})
	proxy.down.Store(true)

	st := requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.RolledBack)
	t.Logf("rolled back: %s (phases %v)", st.Message, phases.seen())
	assert.Contains(t, st.Message, "query failed")
	assert.NotContains(t, phases.seen(), contract.Promoting, "phases seen: %v", phases.seen())
	assert.Less(t, st.Step, 5, "no step passed while Prometheus was unreachable")
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
}

// promProxy forwards to Prometheus until down is set, then drops every
// connection without an answer, as a stopped Prometheus would.
type promProxy struct {
	URL  string
	down atomic.Bool
}

func newPromProxy(t *testing.T, target string) *promProxy {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	p := &promProxy{}
	fwd := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.down.Load() {
			fwd.ServeHTTP(w, r)
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// phaseLog records every phase the status annotation of one Deployment took, from
// a watch, so that a short-lived phase cannot slip between two polls.
type phaseLog struct {
	mu     sync.Mutex
	phases []contract.Phase
}

func (l *phaseLog) seen() []contract.Phase {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]contract.Phase(nil), l.phases...)
}

func watchPhases(t *testing.T, kube kubernetes.Interface, ns, name string) *phaseLog {
	t.Helper()
	l := &phaseLog{}
	onEvents(t, func(ctx context.Context) (watch.Interface, error) {
		return kube.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	}, func(_ watch.EventType, obj metav1.Object) {
		if st, err := contract.Read(obj.GetAnnotations()); err == nil && st.Phase != "" {
			l.mu.Lock()
			if n := len(l.phases); n == 0 || l.phases[n-1] != st.Phase {
				l.phases = append(l.phases, st.Phase)
			}
			l.mu.Unlock()
		}
	})
	return l
}

func findCheck(checks []contract.CheckResult, name string) *contract.CheckResult {
	for i := range checks {
		if checks[i].Name == name {
			return &checks[i]
		}
	}
	return nil
}
