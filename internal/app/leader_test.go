package app

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rolloutd/rolloutd/internal/config"
)

// On shutdown the Lease is released only once the workers have returned: a new
// leader never reconciles beside a worker of the old one finishing its write.
// The workers here keep working for a while after the shutdown starts; the
// release must wait for them, however long they take.
func TestLeaseIsReleasedOnlyAfterTheWorkersStopped(t *testing.T) {
	kube := fake.NewClientset()
	var workersStopped, releasedEarly atomic.Bool
	released := make(chan struct{})
	var once sync.Once
	kube.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		lease := a.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease)
		if h := lease.Spec.HolderIdentity; h == nil || *h == "" {
			releasedEarly.Store(!workersStopped.Load())
			once.Do(func() { close(released) })
		}
		return false, nil, nil
	})
	cfg := config.Config{LeaseName: "rolloutd", LeaseNamespace: "rolloutd",
		LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 200 * time.Millisecond}
	leading := make(chan struct{})
	lead := func(ctx context.Context) {
		close(leading)
		<-ctx.Done()
		// Finishing the reconciles in flight: a release now would be too early.
		select {
		case <-released:
		case <-time.After(time.Second):
		}
		workersStopped.Store(true)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runElected(ctx, cfg, kube, lead, zap.NewNop()) }()
	select {
	case <-leading:
	case <-time.After(30 * time.Second):
		t.Fatal("never became leader")
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("runElected did not return after the shutdown")
	}
	select {
	case <-released:
	default:
		t.Fatal("the Lease was not released on shutdown")
	}
	assert.False(t, releasedEarly.Load(), "the Lease was released while the workers were still running")
	assert.True(t, workersStopped.Load())
}
