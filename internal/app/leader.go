package app

import (
	"context"
	"fmt"
	"os"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/rolloutd/rolloutd/internal/config"
)

// runElected runs lead while this replica holds the Lease. Losing the lease ends
// the process's work (ReleaseOnCancel on shutdown hands it over at once).
func runElected(ctx context.Context, cfg config.Config, kube kubernetes.Interface, lead func(context.Context), log *zap.Logger) error {
	host, _ := os.Hostname()
	id := host + "_" + string(uuid.NewUUID())
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: cfg.LeaseName, Namespace: cfg.Namespace()},
		Client:     kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	lost := make(chan struct{})
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   cfg.LeaseDuration,
		RenewDeadline:   cfg.RenewDeadline,
		RetryPeriod:     cfg.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            cfg.LeaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(c context.Context) {
				log.Info("became leader", zap.String("identity", id))
				lead(c)
			},
			OnStoppedLeading: func() {
				log.Info("stopped leading", zap.String("identity", id))
				close(lost)
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
	le.Run(ctx)
	select {
	case <-ctx.Done():
		return nil
	case <-lost:
		return fmt.Errorf("leader election: lost the lease %s/%s", cfg.Namespace(), cfg.LeaseName)
	}
}
