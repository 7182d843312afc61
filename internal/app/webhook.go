package app

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/internal/alerts"
	"github.com/rolloutd/rolloutd/internal/config"
	"github.com/rolloutd/rolloutd/internal/controller"
	"github.com/rolloutd/rolloutd/internal/server"
)

// mountWebhook serves the Alertmanager webhook when a token file is configured and
// starts the workers that mark Deployments; nil when the webhook is disabled. Every
// replica serves it, leader or not: the mark goes through the API server, on the
// client that takes traffic off canaries (urgent.go). On the leader, handoff (its
// controller) takes each alert in process first, and the mark is written only
// when the controller gives it back.
func mountWebhook(cfg config.Config, srv *server.Server, kube kubernetes.Interface, inf *controller.Informers,
	handoff alerts.Handoff, reg prometheus.Registerer, log *zap.Logger) (*alerts.Receiver, error) {
	if cfg.WebhookTokenFile == "" {
		log.Info("Alertmanager webhook disabled: ROLLOUTD_WEBHOOK_TOKEN_FILE is not set")
		return nil, nil
	}
	rcv, err := alerts.New(alerts.Options{
		TokenFile:  cfg.WebhookTokenFile,
		Kube:       kube,
		Workers:    cfg.WebhookWorkers,
		Lookup:     inf.Deployment,
		Handoff:    handoff,
		Registerer: reg,
		Log:        log.Named("alerts"),
	})
	if err != nil {
		return nil, err
	}
	srv.Handle(alerts.Path, rcv)
	rcv.Start()
	log.Info("Alertmanager webhook enabled", zap.String("path", alerts.Path), zap.String("tokenFile", cfg.WebhookTokenFile))
	return rcv, nil
}
