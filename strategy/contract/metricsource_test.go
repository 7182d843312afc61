package contract

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMetricSourceOnlyWithTheGatewayRouter(t *testing.T) {
	cases := []struct {
		name, router, source string
		want                 Source
		accepted             string // "" = valid
	}{
		{"gateway, none given: the router's default", "gateway", "", "", ""},
		{"gateway, istio", "gateway", "istio", SourceIstio, ""},
		{"gateway, service", "gateway", "service", SourceService, ""},
		{"gateway, unknown source", "gateway", "envoy", "", "service or istio"},
		{"nginx reads its own", "nginx", "istio", SourceIstio, "rolloutd.io/router: gateway"},
		{"default router reads the pods", "", "service", SourceService, "rolloutd.io/router: gateway"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ann := enabledWith(KeyMetricSource, tc.source)
			if tc.router != "" {
				ann[KeyRouter] = tc.router
			}
			s, err := Parse("web", ann)
			if tc.accepted == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, s.MetricSource)
				return
			}
			errs := invalidErrors(t, err)
			require.Len(t, errs, 1, "%v", err)
			assert.Equal(t, KeyMetricSource, errs[0].Key)
			assert.Equal(t, tc.source, errs[0].Value)
			assert.Contains(t, errs[0].Error(), tc.accepted)
		})
	}
}
