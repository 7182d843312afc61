package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// DaemonJob is the Prometheus job scraping the daemons listed in the
// file_sd targets folder.
const DaemonJob = "rolloutd"

// SimulatorJob is the Prometheus job scraping the data-plane simulator.
const SimulatorJob = "rolloutd-sim"

// prometheusConfig renders a configuration that scrapes and evaluates every
// second, so that tests see a change within seconds.
func prometheusConfig(l Layout) ([]byte, error) {
	cfg := map[string]any{
		"global": map[string]any{
			"scrape_interval":     "1s",
			"scrape_timeout":      "1s",
			"evaluation_interval": "1s",
		},
		"rule_files": []string{filepath.Join(l.PrometheusRulesDir(), "*.yml")},
		"alerting": map[string]any{
			"alertmanagers": []any{map[string]any{
				"static_configs": []any{map[string]any{"targets": []string{l.AlertmanagerAddr()}}},
			}},
		},
		"scrape_configs": []any{
			map[string]any{
				"job_name": SimulatorJob,
				// The simulator reports other workloads' metrics with their own
				// namespace/pod labels, like an exporter: keep them.
				"honor_labels":   true,
				"static_configs": []any{map[string]any{"targets": []string{l.SimulatorAddr()}}},
			},
			map[string]any{
				"job_name": DaemonJob,
				"file_sd_configs": []any{map[string]any{
					"files":            []string{filepath.Join(l.PrometheusTargetsDir(), "*.json")},
					"refresh_interval": "5s",
				}},
			},
		},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("render prometheus configuration: %w", err)
	}
	return b, nil
}

func prometheusService(l Layout) service {
	cfgPath := filepath.Join(l.PrometheusDir(), "prometheus.yml")
	return service{
		name:      "prometheus",
		addr:      l.PrometheusAddr(),
		readyPath: "/-/ready",
		prepare: func() error {
			_, err := writeIfChanged(l, cfgPath)
			return err
		},
		refresh: func(ctx context.Context) error {
			changed, err := writeIfChanged(l, cfgPath)
			if err != nil || !changed {
				return err
			}
			return Reload(ctx, "http://"+l.PrometheusAddr())
		},
		spec: func() (procSpec, error) {
			bin, err := exec.LookPath(prometheusBinary)
			if err != nil {
				return procSpec{}, fmt.Errorf("find prometheus: %w", err)
			}
			return procSpec{Path: bin, Args: []string{
				"--config.file=" + cfgPath,
				"--storage.tsdb.path=" + l.PrometheusDataDir(),
				"--storage.tsdb.retention.time=2h",
				"--web.listen-address=" + l.PrometheusAddr(),
				"--web.enable-lifecycle",
				// Each reload (tests add rule files) restarts Alertmanager
				// discovery, and alerts sent in the next few seconds are
				// dropped; resending every second, not every minute, makes
				// them arrive anyway.
				"--rules.alert.resend-delay=1s",
			}}, nil
		},
	}
}

// writeIfChanged renders the configuration and writes it when it differs from
// the file, reporting whether it did.
func writeIfChanged(l Layout, path string) (bool, error) {
	b, err := prometheusConfig(l)
	if err != nil {
		return false, err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return false, nil
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return false, fmt.Errorf("write prometheus configuration: %w", err)
	}
	return true, nil
}
