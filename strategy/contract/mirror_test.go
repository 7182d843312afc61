package contract

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAcceptsMirrorOnlyWithTheIstioAndGatewayRouters(t *testing.T) {
	cases := []struct {
		router string
		mirror string
		ok     bool
	}{
		{"istio", "20", true},
		{"istio", "0", true},
		{"gateway", "20", true},
		{"nginx", "0", true},
		{"nginx", "20", false},
		{"service", "5%", false},
		{"", "100", false}, // the default router is service
	}
	for _, tc := range cases {
		t.Run(tc.router+"/"+tc.mirror, func(t *testing.T) {
			ann := enabledWith(KeyMirror, tc.mirror)
			if tc.router != "" {
				ann[KeyRouter] = tc.router
			}
			s, err := Parse("web", ann)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			errs := invalidErrors(t, err)
			require.Len(t, errs, 1, "%v", err)
			assert.Equal(t, KeyMirror, errs[0].Key)
			assert.Equal(t, tc.mirror, errs[0].Value)
			assert.Contains(t, errs[0].Error(), "rolloutd.io/router: istio")
			assert.Positive(t, s.MirrorPercent, "the parsed value is kept; the error stops the rollout")
		})
	}
}
