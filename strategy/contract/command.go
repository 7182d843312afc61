package contract

import (
	"encoding/json"
)

// CommandKey is the annotation through which rolloutctl asks the daemon to act.
//
// The protocol:
//
//   - rolloutctl writes one JSON Command into the rolloutd.io/command annotation of
//     the user's Deployment with a JSON merge patch on metadata.annotations that also
//     carries metadata.resourceVersion, so the write fails with a conflict (and is
//     re-checked) if the Deployment changed since rolloutctl read it. RBAC on
//     Deployments (verb patch) is therefore the access control.
//   - At most one command is pending. rolloutctl refuses to overwrite a pending
//     command of another verb (or of the same verb with other arguments) and
//     refuses verbs that make no sense in the current phase; in both cases nothing
//     is written.
//   - The daemon consumes the command in the same write that records its effect in
//     rolloutd.io/status (it deletes the annotation), so a command is applied exactly
//     once; it records an Event naming the verb and the user in "by".
//
// The documents per verb (fields left out when empty):
//
//	{"verb":"promote","by":"alice"}                  approve the current gate (Paused or Progressing)
//	{"verb":"promote","full":true,"by":"alice"}      skip the remaining steps (after a passing gate)
//	{"verb":"promote","full":true,"skipAnalysis":true,"by":"alice"}  even without one (recorded)
//	{"verb":"pause","by":"alice"}                    hold the current step (Progressing)
//	{"verb":"resume","by":"alice"}                   continue after pause (Paused)
//	{"verb":"abort","reason":"dashboards","by":"alice"}  roll back now (Progressing, Paused, PendingConfirmation)
//	{"verb":"confirm","by":"alice"}                  blue/green: confirm the switch (PendingConfirmation)
//	{"verb":"retry","by":"alice"}                    re-run the rolled-back revision the template still holds (RolledBack, Aborted)
//	{"verb":"undo","revision":3,"template":"5d9f8c7b1a","now":false,"by":"alice"}
//	                                                 roll back to kept revision 3 (no rollout active)
//
// For undo, "revision" is the deployment.kubernetes.io/revision number of a kept
// ReplicaSet (rolloutctl resolves the default, the previous revision, before
// writing), "template" is the rolloutd revision hash of that ReplicaSet's pod
// template so the daemon can verify the number still names the same template, and
// "now" asks for an immediate switch instead of a fast canary.
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
