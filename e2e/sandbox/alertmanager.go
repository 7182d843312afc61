package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// AlertmanagerConfig renders Alertmanager's configuration: one route grouped
// by alert, namespace and deployment with 1 s group_wait and group_interval
// (Alertmanager's defaults are 30 s and 5 min), to one webhook receiver that
// sends the bearer token read from tokenFile.
func AlertmanagerConfig(webhookURL, tokenFile string) ([]byte, error) {
	cfg := map[string]any{
		"route": map[string]any{
			"receiver":        "rolloutd",
			"group_by":        []string{"alertname", "namespace", "deployment"},
			"group_wait":      "1s",
			"group_interval":  "1s",
			"repeat_interval": "1m",
		},
		"receivers": []any{map[string]any{
			"name": "rolloutd",
			"webhook_configs": []any{map[string]any{
				"url":           webhookURL,
				"send_resolved": true,
				"http_config": map[string]any{
					"authorization": map[string]any{"credentials_file": tokenFile},
				},
			}},
		}},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("render alertmanager configuration: %w", err)
	}
	return b, nil
}

// WriteAlertmanagerConfig writes the configuration for webhookURL and
// tokenFile; Reload(AlertmanagerURL) makes a running Alertmanager use it.
func WriteAlertmanagerConfig(l Layout, webhookURL, tokenFile string) error {
	b, err := AlertmanagerConfig(webhookURL, tokenFile)
	if err != nil {
		return err
	}
	if err := os.WriteFile(l.AlertmanagerConfig(), b, 0o644); err != nil {
		return fmt.Errorf("write alertmanager configuration: %w", err)
	}
	return nil
}

// ensureToken creates the webhook bearer token file once, with a random token.
func ensureToken(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("check token file: %w", err)
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return fmt.Errorf("generate webhook token: %w", err)
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(buf)), 0o600); err != nil {
		return fmt.Errorf("write webhook token: %w", err)
	}
	return nil
}

func alertmanagerService(l Layout) service {
	return service{
		name:      "alertmanager",
		addr:      l.AlertmanagerAddr(),
		readyPath: "/-/ready",
		prepare: func() error {
			if err := ensureToken(l.AlertmanagerTokenFile()); err != nil {
				return err
			}
			return WriteAlertmanagerConfig(l, DefaultWebhookURL, l.AlertmanagerTokenFile())
		},
		spec: func() (procSpec, error) {
			bin, err := exec.LookPath(alertmanagerBinary)
			if err != nil {
				return procSpec{}, fmt.Errorf("find alertmanager: %w", err)
			}
			return procSpec{Path: bin, Args: []string{
				"--config.file=" + l.AlertmanagerConfig(),
				"--storage.path=" + filepath.Join(l.AlertmanagerDir(), "data"),
				"--web.listen-address=" + l.AlertmanagerAddr(),
				// No gossip port: a single instance needs no cluster.
				"--cluster.listen-address=",
				"--data.retention=2h",
			}}, nil
		},
	}
}
