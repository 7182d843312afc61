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
	// Reason is the operator's reason (abort --reason).
	Reason string `json:"reason,omitempty"`
	// Revision, Template and Now name an undo's target: a kept revision number,
	// the revision hash of its template as rolloutctl read it, and "at once".
	Revision int64  `json:"revision,omitempty"`
	Template string `json:"template,omitempty"`
	Now      bool   `json:"now,omitempty"`
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
	return &strategy.Command{Verb: c.Verb, Full: c.Full, By: c.By, Reason: c.Reason,
		Revision: c.Revision, Template: c.Template, Now: c.Now}
}
