package sandbox

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// The sandbox runs one kube-controller-manager and one kube-scheduler, without
// leader election: with it, a lease renewal answered late by a busy API server
// made them exit ("leaderelection lost") and no pod was created after that.
func TestClusterComponentsRunWithoutLeaderElection(t *testing.T) {
	root := t.TempDir()
	b, err := kwokctlConfig(Layout{RepoRoot: root, Dir: filepath.Join(root, ".sandbox")}, Tools{CacheDir: root})
	require.NoError(t, err)
	var cfg struct {
		ComponentsPatches []struct {
			Name      string `json:"name"`
			ExtraArgs []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"extraArgs"`
		} `json:"componentsPatches"`
	}
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	args := map[string]map[string]string{}
	for _, p := range cfg.ComponentsPatches {
		args[p.Name] = map[string]string{}
		for _, a := range p.ExtraArgs {
			args[p.Name][a.Key] = a.Value
		}
	}
	for _, c := range []string{"kube-controller-manager", "kube-scheduler"} {
		assert.Equal(t, "false", args[c]["leader-elect"], c)
	}
}
