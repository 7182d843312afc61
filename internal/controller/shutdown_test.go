package controller

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

// slowRouter stands for a reconcile still writing when the shutdown begins: its
// Apply returns a while after its context ends, or as soon as Run returned
// (which is then too early).
type slowRouter struct {
	router.Service
	armed            atomic.Bool
	started, done    chan struct{}
	runReturned      <-chan struct{}
	returnedBeforeMe atomic.Bool
}

func (s *slowRouter) Apply(ctx context.Context, _ router.Target, _ traffic.Split) error {
	if !s.armed.Load() {
		return nil
	}
	select {
	case <-s.started:
	default:
		close(s.started)
	}
	defer close(s.done)
	<-ctx.Done()
	select {
	case <-s.runReturned:
		s.returnedBeforeMe.Store(true)
	case <-time.After(time.Second):
	}
	return nil
}

// Given a reconcile in flight, when the workers' context ends, then Run returns
// only once that reconcile has returned: the caller (the leader election)
// releases the Lease after Run, so a new leader never works beside it.
func TestRunReturnsOnlyAfterTheReconcilesInFlight(t *testing.T) {
	h := newHarness(t, userObjects(optedIn(contract.KeyRouter, "istio"))...)
	runReturned := make(chan struct{})
	slow := &slowRouter{started: make(chan struct{}), done: make(chan struct{}), runReturned: runReturned}
	h.ctl.Routers[contract.RouterIstio] = slow
	h.sync()
	slow.armed.Store(true)
	h.setImage("web:2")
	h.settle()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { defer close(runReturned); h.ctl.Run(ctx, 2) }()
	h.ctl.queue.Add(key)
	select {
	case <-slow.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the reconcile never reached the router")
	}
	cancel()
	select {
	case <-runReturned:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after the shutdown")
	}
	select {
	case <-slow.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the reconcile never returned")
	}
	assert.False(t, slow.returnedBeforeMe.Load(), "Run returned while a reconcile was still running")
}
