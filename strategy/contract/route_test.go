package contract

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRouteNamesAnHTTPRouteOrAGRPCRoute(t *testing.T) {
	cases := []struct {
		value string
		kind  RouteKind
		name  string
		ok    bool
	}{
		{"", RouteHTTP, "web", true}, // the Deployment's name
		{"shop", RouteHTTP, "shop", true},
		{"httproute/shop", RouteHTTP, "shop", true},
		{"grpcroute/cart", RouteGRPC, "cart", true},
		{"GRPCRoute/cart", RouteGRPC, "cart", true},
		{"tcproute/cart", RouteHTTP, "web", false},
		{"grpcroute/", RouteHTTP, "web", false},
		{"grpcroute/Cart", RouteHTTP, "web", false},
	}
	for _, tc := range cases {
		t.Run(tc.value, func(t *testing.T) {
			s, err := Parse("web", enabledWith(KeyRouter, "gateway", KeyRoute, tc.value))
			assert.Equal(t, tc.kind, s.RouteKind)
			assert.Equal(t, tc.name, s.Route)
			if tc.ok {
				require.NoError(t, err)
				kind, name := RouteOf("web", map[string]string{KeyRoute: tc.value})
				assert.Equal(t, tc.kind, kind, "the index reads the same route")
				assert.Equal(t, tc.name, name)
				return
			}
			errs := invalidErrors(t, err)
			require.Len(t, errs, 1)
			assert.Equal(t, KeyRoute, errs[0].Key)
			assert.Contains(t, errs[0].Error(), "grpcroute/NAME")
		})
	}
}
