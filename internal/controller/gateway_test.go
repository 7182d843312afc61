package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/rolloutd/rolloutd/internal/spec"
	"github.com/rolloutd/rolloutd/internal/status"
	"github.com/rolloutd/rolloutd/strategy"
)

func TestRequeueLooksAgainAtAnActiveGatewayRouteWithinTheRecheck(t *testing.T) {
	cases := []struct {
		name   string
		router spec.Router
		phase  status.Phase
		after  time.Duration
		want   time.Duration
	}{
		{"gateway, long step", spec.RouterGateway, status.Progressing, time.Minute, routeRecheck},
		{"gateway, nothing scheduled", spec.RouterGateway, status.Progressing, 0, routeRecheck},
		{"gateway, sooner deadline kept", spec.RouterGateway, status.Progressing, time.Second, time.Second},
		{"gateway, settled", spec.RouterGateway, status.Succeeded, 0, 0},
		{"nginx, long step", spec.RouterNginx, status.Progressing, time.Minute, time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &rollout{spec: spec.Spec{Router: tc.router}}
			d := strategy.Decision{Status: status.Status{Phase: tc.phase}, RequeueAfter: tc.after}
			assert.Equal(t, tc.want, r.requeue(d))
		})
	}
}
