package contract

import (
	"encoding/json"
)

// Key is the annotation holding a pending command.
const CommandKey = Prefix + "command"

// Verb is an operator request.
type Verb string

// Operator verbs.
const (
	Promote Verb = "promote"
	Pause   Verb = "pause"
	Resume  Verb = "resume"
	Abort   Verb = "abort"
	Confirm Verb = "confirm"
	Retry   Verb = "retry"
	Undo    Verb = "undo"
)

// Command is the JSON document of the command annotation (fields left out when
// empty).
type Command struct {
	Verb Verb `json:"verb"`
	// Full skips the remaining steps (promote --full).
	Full bool `json:"full,omitempty"`
	// SkipAnalysis lets promote --full go ahead without a passing gate; the
	// daemon records who skipped the analysis.
	SkipAnalysis bool `json:"skipAnalysis,omitempty"`
	// Reason is the operator's reason (abort --reason).
	Reason string `json:"reason,omitempty"`
	// Revision is the Deployment revision number to return to (undo).
	Revision int64 `json:"revision,omitempty"`
	// Template is the rolloutd revision hash of Revision's pod template (undo).
	Template string `json:"template,omitempty"`
	// Now switches at once instead of through a fast canary (undo --now).
	Now bool `json:"now,omitempty"`
	// By is the requesting user.
	By string `json:"by,omitempty"`
}

// Decode reads a pending command; ok is false when there is none or it is
// malformed (the daemon drops a malformed one at its next write, so it may be
// replaced).
func Decode(ann map[string]string) (Command, bool) {
	raw, present := ann[CommandKey]
	if !present {
		return Command{}, false
	}
	var c Command
	if err := json.Unmarshal([]byte(raw), &c); err != nil || c.Verb == "" {
		return Command{}, false
	}
	return c, true
}
