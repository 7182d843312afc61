package contract

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseBlueGreenNeedsARouterThatSwitchesAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		router []string
		ok     bool
	}{
		{"nginx", []string{KeyRouter, "nginx"}, true},
		{"istio", []string{KeyRouter, "istio"}, true},
		{"gateway", []string{KeyRouter, "gateway"}, true},
		{"explicit service", []string{KeyRouter, "service"}, false},
		{"default router (service)", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("web", enabledWith(append([]string{KeyStrategy, "bluegreen"}, tc.router...)...))
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, BlueGreen, s.Strategy)
				return
			}
			errs := invalidErrors(t, err)
			require.Len(t, errs, 1)
			assert.Equal(t, KeyRouter, errs[0].Key)
			assert.Contains(t, errs[0].Error(), "nginx, istio or gateway with strategy bluegreen")
		})
	}
}

func TestParseCanaryKeepsTheServiceRouter(t *testing.T) {
	_, err := Parse("web", enabledWith(KeyRouter, "service"))
	assert.NoError(t, err)
}
