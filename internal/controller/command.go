package controller

import (
	"github.com/rolloutd/rolloutd/strategy"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// CommandKey is the annotation through which rolloutctl asks the daemon to act. The
// daemon consumes it in the same write that records the effect in the status, so a
// command is applied exactly once, and RBAC on Deployments is the access control.
const CommandKey = contract.CommandKey

// readCommand decodes a pending command; a malformed one is ignored (and dropped at
// the next write) rather than blocking the rollout.
func readCommand(ann map[string]string) *strategy.Command {
	c, ok := contract.Decode(ann)
	if !ok {
		return nil
	}
	return &strategy.Command{Verb: strategy.Verb(c.Verb), Full: c.Full, SkipAnalysis: c.SkipAnalysis, By: c.By,
		Reason: c.Reason, Revision: c.Revision, Template: c.Template, Now: c.Now}
}
