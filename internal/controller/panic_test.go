package controller

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// panickingRouter stands for any bug deep in a reconcile.
type panickingRouter struct{ router.Service }

func (panickingRouter) Apply(_ context.Context, t router.Target, _ traffic.Split) error {
	var owner *metav1.OwnerReference
	if t.Owner.Name == "" {
		return nil
	}
	_ = owner.Name // a nil dereference
	return nil
}

// Given a reconcile that panics, when a worker processes its key, then the panic
// is recovered: counted, the key retried with backoff, and the worker goes on with
// the next key.
func TestAPanickingReconcileIsRecoveredCountedAndRetried(t *testing.T) {
	h := newHarness(t, userObjects(optedIn(contract.KeyRouter, "istio"))...)
	h.ctl.Routers[contract.RouterIstio] = panickingRouter{}
	h.sync()
	h.setImage("web:2")
	h.settle()

	h.ctl.queue.Add(key)
	h.ctl.queue.Add(ns + "/other")
	require.NotPanics(t, func() {
		require.True(t, h.ctl.processNextWorkItem(h.ctx))
		require.True(t, h.ctl.processNextWorkItem(h.ctx), "the worker goes on")
	})
	assert.Equal(t, 1.0, testutil.ToFloat64(h.ctl.Metrics.Panics), "the panic is counted")
	assert.Equal(t, 1.0, testutil.ToFloat64(h.ctl.Metrics.ReconcileErrors.WithLabelValues("panic")))
	assert.Equal(t, 1, h.ctl.queue.NumRequeues(key), "requeued with backoff")
}
