package app

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/rolloutd/rolloutd/internal/config"
	"github.com/rolloutd/rolloutd/internal/notify"
)

// startNotifier starts sending notifications to the channels whose URL file is
// configured; nil when none is. The URLs are read from their files when sending and
// never logged.
func startNotifier(cfg config.Config, reg prometheus.Registerer, log *zap.Logger) (*notify.Notifier, error) {
	var sinks []notify.Sink
	for _, s := range []notify.Sink{
		{Name: notify.Slack, URLFile: cfg.NotifySlackURLFile},
		{Name: notify.Teams, URLFile: cfg.NotifyTeamsURLFile},
		{Name: notify.Webhook, URLFile: cfg.NotifyWebhookURLFile},
	} {
		if s.URLFile != "" {
			sinks = append(sinks, s)
		}
	}
	if len(sinks) == 0 {
		log.Info("notifications disabled: no ROLLOUTD_NOTIFY_*_URL_FILE is set")
		return nil, nil
	}
	n, err := notify.New(notify.Options{Sinks: sinks, Timeout: cfg.NotifyTimeout, QueueSize: cfg.NotifyQueueSize,
		Registerer: reg, Log: log.Named("notify")})
	if err != nil {
		return nil, err
	}
	n.Start()
	log.Info("notifications enabled", zap.Strings("channels", n.Channels()))
	return n, nil
}
