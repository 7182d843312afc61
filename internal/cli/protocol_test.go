package cli

import (
	"encoding/json"
	"testing"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The daemon decodes what rolloutctl writes: same annotation, same fields.
func TestCommandDecodesInTheDaemon(t *testing.T) {
	tests := []contract.Command{
		{Verb: contract.Promote, By: "alice"},
		{Verb: contract.Promote, Full: true, By: "alice"},
		{Verb: contract.Promote, Full: true, SkipAnalysis: true, By: "alice"},
		{Verb: contract.Pause, By: "alice"},
		{Verb: contract.Resume},
		{Verb: contract.Abort, Reason: "dashboards", By: "alice"},
	}
	for _, c := range tests {
		t.Run(describe(c), func(t *testing.T) {
			raw, err := json.Marshal(c)
			require.NoError(t, err)
			got, ok := contract.Decode(map[string]string{contract.CommandKey: string(raw)})
			require.True(t, ok)
			assert.Equal(t, c, got)
		})
	}
}

func TestDisplayName(t *testing.T) {
	tests := map[string]string{
		"/usr/local/bin/rolloutctl":       "rolloutctl",
		"/usr/local/bin/kubectl-rollouts": "kubectl rollouts",
		"kubectl-rollouts.exe":            "kubectl rollouts",
		"./rolloutctl":                    "rolloutctl",
		"":                                "rolloutctl",
	}
	for argv0, want := range tests {
		assert.Equal(t, want, DisplayName(argv0), argv0)
	}
}
