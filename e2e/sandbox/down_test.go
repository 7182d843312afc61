package sandbox

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Stopping the sandbox removes what describes the cluster that is gone: its
// etcd (kwokctl's folder) and Prometheus' samples of its pods, which a new
// cluster must not read (a namespace of the same name would find the old
// series) and which Prometheus would replay at every start (a large store took
// longer than the readiness wait). Configurations and logs stay.
func TestRemoveStateDropsTheGoneClustersSamples(t *testing.T) {
	root := t.TempDir()
	l := Layout{RepoRoot: root, Dir: filepath.Join(root, ".sandbox")}
	data := filepath.Join(l.PrometheusDir(), "data", "wal")
	cfg := filepath.Join(l.PrometheusDir(), "prometheus.yml")
	logs := filepath.Join(l.Dir, "logs", "prometheus.log")
	for _, dir := range []string{data, clusterDir(l), filepath.Dir(logs)} {
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	for _, f := range []string{filepath.Join(data, "00000001"), cfg, logs} {
		require.NoError(t, os.WriteFile(f, []byte("x"), 0o644))
	}

	require.NoError(t, removeState(l))
	assert.NoDirExists(t, filepath.Join(l.PrometheusDir(), "data"))
	assert.NoDirExists(t, clusterDir(l))
	assert.FileExists(t, cfg)
	assert.FileExists(t, logs)
}
