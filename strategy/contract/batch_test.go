package contract

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBatchStrategyRules(t *testing.T) {
	cases := []struct {
		name    string
		kv      []string
		wantKey string // "" = accepted
	}{
		{"batch with the default router", []string{KeyStrategy, "batch"}, ""},
		{"batch with router service", []string{KeyStrategy, "batch", KeyRouter, "service"}, ""},
		{"batch with router nginx", []string{KeyStrategy, "batch", KeyRouter, "nginx"}, KeyRouter},
		{"batch with router istio", []string{KeyStrategy, "batch", KeyRouter, "istio"}, KeyRouter},
		{"canary with router nginx", []string{KeyStrategy, "canary", KeyRouter, "nginx"}, ""},
		{"delete-first without max-unavailable", []string{KeyStrategy, "batch", KeyRollingOrder, "delete-first"}, KeyMaxUnavailable},
		{"delete-first with max-unavailable 0%", []string{KeyStrategy, "batch", KeyRollingOrder, "delete-first", KeyMaxUnavailable, "0%"}, KeyMaxUnavailable},
		{"delete-first with max-unavailable 1", []string{KeyStrategy, "batch", KeyRollingOrder, "delete-first", KeyMaxUnavailable, "1"}, ""},
		{"delete-first with max-unavailable 10%", []string{KeyStrategy, "batch", KeyRollingOrder, "delete-first", KeyMaxUnavailable, "10%"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("web", enabledWith(tc.kv...))
			if tc.wantKey == "" {
				require.NoError(t, err)
				return
			}
			errs := invalidErrors(t, err)
			require.Len(t, errs, 1)
			assert.Equal(t, tc.wantKey, errs[0].Key)
			assert.Contains(t, errs[0].Error(), "accepted:")
		})
	}
}

func TestBatchDefaults(t *testing.T) {
	s, err := Parse("web", enabledWith(KeyStrategy, "batch"))
	require.NoError(t, err)
	assert.Equal(t, []Quantity{{25, true}, {50, true}, {100, true}}, s.Batches)
	assert.Equal(t, Quantity{Value: 25, Percent: true}, s.MaxSurge)
	assert.Equal(t, Quantity{}, s.MaxUnavailable)
	assert.Equal(t, CreateFirst, s.RollingOrder)
}
