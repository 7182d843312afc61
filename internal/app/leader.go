package app

import (
	"context"
	"fmt"
	"os"
	"sync"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/rolloutd/rolloutd/internal/config"
)

// runElected runs lead while this replica holds the Lease. Losing the lease ends
// the process's work. On shutdown the Lease is released (ReleaseOnCancel) only
// after lead has returned, that is after the workers stopped: a new leader never
// reconciles beside a worker of the old one finishing its write.
func runElected(ctx context.Context, cfg config.Config, kube kubernetes.Interface, lead func(context.Context), log *zap.Logger) error {
	id, lock := leaseLock(cfg, kube)
	// The elector runs on a context of its own, cancelled once the workers are
	// done; the workers' context ends with ctx or with the lease.
	electCtx, stopElecting := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElecting()
	// leading counts a running lead; Add runs in the elector's callback goroutine,
	// which the elector starts only while electCtx is live.
	var leading sync.WaitGroup
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   cfg.LeaseDuration,
		RenewDeadline:   cfg.RenewDeadline,
		RetryPeriod:     cfg.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            cfg.LeaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(c context.Context) {
				leading.Add(1)
				defer leading.Done()
				log.Info("became leader", zap.String("identity", id))
				workCtx, stop := context.WithCancel(c)
				defer stop()
				defer context.AfterFunc(ctx, stop)()
				lead(workCtx)
			},
			OnStoppedLeading: func() {
				log.Info("stopped leading", zap.String("identity", id))
			},
			OnNewLeader: func(identity string) {
				if identity != id {
					log.Info("following leader", zap.String("leader", identity))
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	done := make(chan struct{})
	go func() { defer close(done); le.Run(electCtx) }()
	select {
	case <-ctx.Done():
		// Let the workers finish, then release the lease.
		leading.Wait()
		stopElecting()
		<-done
		return nil
	case <-done:
		leading.Wait()
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("leader election: lost the lease %s/%s", cfg.Namespace(), cfg.LeaseName)
	}
}

// leaseLock is this replica's identity (host and a unique suffix, so two
// processes on one host differ) and its lock on the configured Lease.
func leaseLock(cfg config.Config, kube kubernetes.Interface) (string, *resourcelock.LeaseLock) {
	host, _ := os.Hostname()
	id := host + "_" + string(uuid.NewUUID())
	return id, &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: cfg.LeaseName, Namespace: cfg.Namespace()},
		Client:     kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
}
