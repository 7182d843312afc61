package controller

import (
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// readCommand decodes a pending command; a malformed one is ignored (and dropped at
// the next write) rather than blocking the rollout.
func readCommand(ann map[string]string) *contract.Command {
	c, ok := contract.Decode(ann)
	if !ok {
		return nil
	}
	return &c
}
