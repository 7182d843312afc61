package main

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// health says how the simulator's scrape fares with the benchmark's pods: its
// worst scrape time and size over the last minute, the share of its scrapes that
// succeeded, and how many of the namespace's canaries Prometheus has request
// series for.
func health(ctx context.Context, promURL, ns string) string {
	client, err := api.NewClient(api.Config{Address: promURL})
	if err != nil {
		return err.Error()
	}
	prom := promv1.NewAPI(client)
	q := func(query string) string {
		v, _, err := prom.Query(ctx, query, time.Now())
		if err != nil {
			return "error: " + err.Error()
		}
		vec, ok := v.(model.Vector)
		if !ok || len(vec) == 0 {
			return "none"
		}
		return vec[0].Value.String()
	}
	return fmt.Sprintf("sim scrape max %ss (timeout 1s), share of scrapes up %s, samples max %s over the last minute; canaries with request series: %s",
		q(`max_over_time(scrape_duration_seconds{job="rolloutd-sim"}[1m])`),
		q(`avg_over_time(up{job="rolloutd-sim"}[1m])`),
		q(`max_over_time(scrape_samples_scraped{job="rolloutd-sim"}[1m])`),
		q(fmt.Sprintf(`count(count by (ingress) (nginx_ingress_controller_requests{namespace=%q,canary!=""}))`, ns)))
}
