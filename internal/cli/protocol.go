package cli

import (
	"fmt"

	"github.com/rolloutd/rolloutd/strategy/contract"
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
const CommandKey = contract.CommandKey

// Verb is an operator request.
type Verb = contract.Verb

// Operator verbs.
const (
	VerbPromote = contract.Promote
	VerbPause   = contract.Pause
	VerbResume  = contract.Resume
	VerbAbort   = contract.Abort
	VerbConfirm = contract.Confirm
	VerbRetry   = contract.Retry
	VerbUndo    = contract.Undo
)

// Command is the JSON document of the command annotation, shared with the daemon.
type Command = contract.Command

// decodeCommand reads a pending command; ok is false when there is none or it is
// malformed (the daemon ignores and drops a malformed one, so it may be replaced).
func decodeCommand(ann map[string]string) (Command, bool) { return contract.Decode(ann) }

// sameRequest reports whether two commands ask for the same thing, whoever sent them.
func sameRequest(a, b Command) bool {
	a.By, b.By = "", ""
	return a == b
}

// describe renders a command for messages: "undo to revision 3 (by alice)".
func describe(c Command) string {
	s := string(c.Verb)
	switch {
	case c.Verb == VerbUndo:
		s += fmt.Sprintf(" to revision %d", c.Revision)
		if c.Now {
			s += " --now"
		}
	case c.Full:
		s += " --full"
		if c.SkipAnalysis {
			s += " --skip-analysis"
		}
	}
	if c.By != "" {
		s += " by " + c.By
	}
	return s
}
