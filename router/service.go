package router

import (
	"context"

	"github.com/rolloutd/rolloutd/traffic"
)

// Service is the router for Deployments without an ingress or mesh router: the
// user's Service selects both stable and canary pods, so traffic follows the replica
// ratio and there is no routing object to write.
type Service struct{}

// Apply does nothing: the canary's share is set by its replica count.
func (Service) Apply(context.Context, Target, traffic.Split) error { return nil }

// Reset does nothing: removing the canary pods removes their share.
func (Service) Reset(context.Context, Target) error { return nil }

// Weight reports no routing object.
func (Service) Weight(context.Context, Target) (int, bool, error) { return 0, false, nil }
