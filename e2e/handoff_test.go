//go:build e2e

package e2e

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/e2e/framework"
)

// Given two daemons electing a leader, each serving the webhook, and two
// rollouts held at 10%: an alert sent to the leader is taken in process (no mark
// is written: the rollback's writes are the only ones), and an alert sent to the
// standby is marked on its Deployment for the leader; both canaries are rolled
// back by their alert.
func TestAlertReachesTheLeaderThroughEitherReplica(t *testing.T) {
	t.Parallel()
	env := framework.Get(t)
	ns := env.Namespace(t)
	envs := leaderEnv(ns)
	envs["ROLLOUTD_WEBHOOK_TOKEN_FILE"] = env.WebhookTokenFile
	opts := framework.DaemonOptions{Namespaces: []string{ns}, Env: envs}
	leader := env.StartDaemon(t, opts)
	watchLease(t, env.Kube, ns, "rolloutd").waitHolder(t, "")
	standby := env.StartDaemon(t, opts)
	for _, name := range []string{"front", "back"} {
		a := app{name: name, replicas: 3, router: "nginx", rps: 100, annotations: map[string]string{
			"rolloutd.io/interval": "10m", "rolloutd.io/checks": "cpu<=2x"}}
		a.create(t, env.Kube, ns)
		release(t, env.Kube, ns, name, "example.com/"+name+":v2", nil)
	}
	waitWeight(t, env, ns, "front", 10)
	waitWeight(t, env, ns, "back", 10)
	marks := watchAlertMarks(t, env, ns)

	postAlert(t, env, leader, ns, "front", "FrontErrors", time.Now())
	postAlert(t, env, standby, ns, "back", "BackErrors", time.Now())

	requireRolledBackByAlert(t, env, ns, "front", "example.com/front:v1")
	requireRolledBackByAlert(t, env, ns, "back", "example.com/back:v1")
	assert.Equal(t, 1.0, metricSum(t, leader, `rolloutd_webhook_alerts_total{result="taken"}`), "the leader took its alert in process")
	assert.Zero(t, metricSum(t, leader, `rolloutd_webhook_alerts_total{result="marked"}`))
	assert.Equal(t, 1.0, metricSum(t, standby, `rolloutd_webhook_alerts_total{result="marked"}`), "the standby marked its alert")
	assert.Equal(t, []string{"back"}, marks.marked(), "only the standby's alert was marked on its Deployment")
	assert.Zero(t, reconciles(t, standby), "the standby never reconciled")
}

// alertMarks records the Deployments of a namespace that ever carried an alert
// mark, in the order they first did.
type alertMarks struct {
	mu    sync.Mutex
	names []string
}

// watchAlertMarks watches ns's Deployments until the test ends.
func watchAlertMarks(t *testing.T, env *framework.Env, ns string) *alertMarks {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := env.Kube.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	m := &alertMarks{}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			obj, err := meta.Accessor(ev.Object)
			if err != nil {
				continue
			}
			if _, marked := obj.GetAnnotations()["rolloutd.io/alert"]; marked {
				m.add(obj.GetName())
			}
		}
	}()
	return m
}

func (m *alertMarks) add(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.names, name) {
		m.names = append(m.names, name)
	}
}

func (m *alertMarks) marked() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.names)
}
