package controller

import (
	"encoding/json"

	"github.com/rolloutd/rolloutd/internal/spec"
	"github.com/rolloutd/rolloutd/strategy"
)

// CommandKey is the annotation through which rolloutctl asks the daemon to act. The
// daemon consumes it in the same write that records the effect in the status, so a
// command is applied exactly once, and RBAC on Deployments is the access control.
const CommandKey = spec.Prefix + "command"

// Command is the JSON document of the command annotation.
type Command struct {
	Verb strategy.Verb `json:"verb"`
	Full bool          `json:"full,omitempty"`
	By   string        `json:"by,omitempty"`
}

// readCommand decodes a pending command; a malformed one is ignored (and dropped at
// the next write) rather than blocking the rollout.
func readCommand(ann map[string]string) *strategy.Command {
	raw, ok := ann[CommandKey]
	if !ok {
		return nil
	}
	var c Command
	if err := json.Unmarshal([]byte(raw), &c); err != nil || c.Verb == "" {
		return nil
	}
	return &strategy.Command{Verb: c.Verb, Full: c.Full, By: c.By}
}
