package app

import (
	"fmt"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/rolloutd/rolloutd/internal/config"
	"github.com/rolloutd/rolloutd/internal/controller"
	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// urgentClients builds the clients that take traffic off canaries: one rate
// limiter (ROLLOUTD_ROLLBACK_QPS, ROLLOUTD_ROLLBACK_BURST) shared by the typed,
// dynamic and Gateway API clients behind the routers, apart from the main
// client's, so a burst of rollbacks never waits behind the main client's queue.
func urgentClients(base *rest.Config, cfg config.Config) (controller.Urgent, error) {
	rc := rest.CopyConfig(base)
	rc.QPS, rc.Burst = cfg.RollbackQPS, cfg.RollbackBurst
	rc.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.RollbackQPS, cfg.RollbackBurst)
	rc.UserAgent = "rolloutd-rollback"
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return controller.Urgent{}, fmt.Errorf("kubernetes client for rollbacks: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return controller.Urgent{}, fmt.Errorf("dynamic client for rollbacks: %w", err)
	}
	gw, err := gwclient.NewForConfig(rc)
	if err != nil {
		return controller.Urgent{}, fmt.Errorf("gateway api client for rollbacks: %w", err)
	}
	return controller.Urgent{Kube: kube, Routers: routers(kube, dyn, gw), Workers: cfg.RollbackWorkers}, nil
}

// routers are the routers writing through the given clients.
func routers(kube kubernetes.Interface, dyn dynamic.Interface, gw gwclient.Interface) map[contract.Router]router.Router {
	return map[contract.Router]router.Router{
		contract.RouterService: router.Service{},
		contract.RouterNginx:   router.Nginx{Client: kube},
		contract.RouterIstio:   router.Istio{Client: dyn},
		contract.RouterGateway: router.Gateway{Client: gw},
	}
}
