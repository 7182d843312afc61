package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Alert is one firing alert for app in namespace ns; fingerprint tells it apart
// from earlier ones.
type Alert struct {
	Namespace, App, Fingerprint string
}

// AlertPayload is an Alertmanager webhook payload (version 4) with the alerts
// firing since now.
func AlertPayload(alerts []Alert, now time.Time) ([]byte, error) {
	type alert struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		StartsAt    string            `json:"startsAt"`
		Fingerprint string            `json:"fingerprint"`
	}
	out := struct {
		Version  string  `json:"version"`
		Status   string  `json:"status"`
		Receiver string  `json:"receiver"`
		GroupKey string  `json:"groupKey"`
		Alerts   []alert `json:"alerts"`
	}{Version: "4", Status: "firing", Receiver: "rolloutd", GroupKey: "bench"}
	for _, a := range alerts {
		out.Alerts = append(out.Alerts, alert{Status: "firing", StartsAt: now.UTC().Format(time.RFC3339Nano), Fingerprint: a.Fingerprint,
			Labels: map[string]string{"alertname": "BenchAlert", "namespace": a.Namespace, "deployment": a.App}})
	}
	return json.Marshal(out)
}

// PostAlerts posts a payload to the daemon's Alertmanager webhook at addr.
func PostAlerts(ctx context.Context, addr, token string, payload []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/webhooks/alertmanager", bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("post alerts: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("post alerts: %s: %s", resp.Status, b)
	}
	return nil
}
