package harness

import (
	"fmt"

	"github.com/rolloutd/rolloutd/e2e/sandbox"
)

// SandboxPrometheus is the running sandbox's Prometheus URL, read from its env
// file as the e2e framework reads it: the port moves with
// ROLLOUTD_SANDBOX_PORT_OFFSET, so no benchmark may assume 127.0.0.1:9090.
func SandboxPrometheus() (string, error) {
	l, err := sandbox.NewLayout()
	if err != nil {
		return "", err
	}
	env, err := sandbox.ReadEnvFile(l.EnvFile())
	if err != nil {
		return "", fmt.Errorf("sandbox env %s: %w", l.EnvFile(), err)
	}
	url := env[sandbox.EnvPrometheusURL]
	if url == "" {
		return "", fmt.Errorf("sandbox env %s names no %s", l.EnvFile(), sandbox.EnvPrometheusURL)
	}
	return url, nil
}
