package controller

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// withUrgentClient gives the controller an urgent client of its own over the
// same objects, and returns it so a test can tell which client made each write.
func (h *harness) withUrgentClient() *fake.Clientset {
	u := &fake.Clientset{}
	var version atomic.Int64
	version.Store(1 << 40)
	u.AddReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if o, ok := a.(k8stesting.CreateAction); ok {
			if m, err := meta.Accessor(o.GetObject()); err == nil {
				m.SetResourceVersion(strconv.FormatInt(version.Add(1), 10))
			}
		}
		return false, nil, nil
	})
	u.AddReactor("*", "*", k8stesting.ObjectReaction(h.kube.Tracker()))
	h.ctl.Urgent = Urgent{Kube: u, Routers: map[contract.Router]router.Router{
		contract.RouterService: router.Service{}, contract.RouterNginx: router.Nginx{Client: u}}, Workers: 1}
	return u
}

func verbs(actions []k8stesting.Action) []string {
	var out []string
	for _, a := range actions {
		if a.GetVerb() == "get" || a.GetVerb() == "list" || a.GetVerb() == "watch" {
			continue
		}
		name := ""
		if d, ok := a.(k8stesting.DeleteAction); ok {
			name = d.GetName()
		}
		if u, ok := a.(k8stesting.UpdateAction); ok {
			if m, err := meta.Accessor(u.GetObject()); err == nil {
				name = m.GetName()
			}
		}
		out = append(out, a.GetVerb()+" "+a.GetResource().Resource+"/"+name)
	}
	return out
}

func TestUrgentReconcileOnlyTakesTrafficOffTheCanary(t *testing.T) {
	h := atWeight10(t)
	u := h.withUrgentClient()
	h.clock.SetTime(t0.Add(20 * time.Second))
	h.markAlert(t0.Add(15 * time.Second))
	h.settle()
	h.kube.ClearActions()

	_, err := h.ctl.sync(h.ctx, key, true)
	require.NoError(t, err)

	assert.Equal(t, []string{"update deployments/web", "delete ingresses/web-canary"}, verbs(u.Actions()),
		"the decision, then the traffic object, on the urgent client")
	assert.Empty(t, verbs(h.kube.Actions()), "nothing on the main client")
	st := h.status()
	assert.Equal(t, contract.RollingBack, st.Phase)
	assert.Equal(t, contract.ReasonAlert, st.Reason)
	assert.True(t, h.exists("deployments", "web-canary"), "the canary's removal is left to the main queue")
	assert.Contains(t, h.events()[0], "Warning "+contract.ReasonAlert, "the Event is not held back")

	h.sync()
	h.sync()
	assert.Equal(t, contract.RolledBack, h.status().Phase)
	assert.False(t, h.exists("deployments", "web-canary"))
}

func TestUrgentReconcileLeavesEverythingElseToTheMainQueue(t *testing.T) {
	for name, edit := range map[string]func(h *harness){
		"no intervention":                 func(*harness) {},
		"a promote command":               func(h *harness) { h.command(string(contract.Promote)) },
		"an alert older than the rollout": func(h *harness) { h.markAlert(t0.Add(-time.Hour)) },
	} {
		t.Run(name, func(t *testing.T) {
			h := atWeight10(t)
			u := h.withUrgentClient()
			edit(h)
			h.settle()
			h.kube.ClearActions()
			before := h.status()

			_, err := h.ctl.sync(h.ctx, key, true)
			require.NoError(t, err)

			assert.Empty(t, verbs(u.Actions()))
			assert.Empty(t, verbs(h.kube.Actions()))
			assert.Equal(t, before, h.status())
		})
	}
}

func TestKeyLocksLetOneReconcileOfAKeyRunAtATime(t *testing.T) {
	var k keyLocks
	var running, most atomic.Int32
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			unlock := k.lock("shop/web")
			if n := running.Add(1); n > most.Load() {
				most.Store(n)
			}
			running.Add(-1)
			unlock()
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
	assert.Equal(t, int32(1), most.Load())
	assert.Empty(t, k.locks, "no entry outlives its holders")
}
