package cli

import (
	"encoding/json"
	"testing"

	"github.com/rolloutd/rolloutd/internal/controller"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The daemon decodes what rolloutctl writes: same annotation, same fields.
func TestCommandDecodesInTheDaemon(t *testing.T) {
	assert.Equal(t, controller.CommandKey, CommandKey)
	tests := []Command{
		{Verb: VerbPromote, By: "alice"},
		{Verb: VerbPromote, Full: true, By: "alice"},
		{Verb: VerbPromote, Full: true, SkipAnalysis: true, By: "alice"},
		{Verb: VerbPause, By: "alice"},
		{Verb: VerbResume},
		{Verb: VerbAbort, Reason: "dashboards", By: "alice"},
	}
	for _, c := range tests {
		t.Run(describe(c), func(t *testing.T) {
			raw, err := json.Marshal(c)
			require.NoError(t, err)
			got, ok := contract.Decode(map[string]string{controller.CommandKey: string(raw)})
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
