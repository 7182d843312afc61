// Package notify tells people in chat what a rollout does: Slack and Microsoft Teams
// incoming webhooks and a generic JSON webhook. Sending is asynchronous — a bounded
// queue and a worker with per-request timeouts and exponential backoff — so a slow
// or broken receiver never holds up a rollout; when the queue is full a notification
// is dropped and counted. Webhook URLs are secrets: they are read from files
// (mounted Secrets) when sending and never appear in logs or errors.
package notify

import (
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Kind is what happened to a rollout.
type Kind string

// The moments people are told about.
const (
	Started          Kind = "Started"
	AwaitingApproval Kind = "AwaitingApproval"
	Promoted         Kind = "Promoted"
	RolledBack       Kind = "RolledBack"
)

// Channel names, as in the rolloutd.io/notify annotation.
const (
	Slack   = "slack"
	Teams   = "teams"
	Webhook = "webhook"
)

// Event is one notification.
type Event struct {
	Kind       Kind
	Namespace  string
	Deployment string
	Revision   string
	Phase      string
	// Reason is the Event reason of the transition (e.g. GateFailed, AlertRollback).
	Reason  string
	Message string
	// Checks are the last gate's results; a rollback names the failing ones.
	Checks []contract.CheckResult
	Time   time.Time
	// Channels restricts the channels for this Deployment (the rolloutd.io/notify
	// annotation); nil means every channel the daemon configures, empty means none.
	Channels []string
}

// failed lists the checks that did not pass.
func (e Event) failed() []contract.CheckResult {
	var out []contract.CheckResult
	for _, c := range e.Checks {
		if c.Verdict != contract.Pass {
			out = append(out, c)
		}
	}
	return out
}

// title is a one-line summary.
func (e Event) title() string {
	what := map[Kind]string{
		Started:          "rollout started",
		AwaitingApproval: "waiting for approval",
		Promoted:         "promoted",
		RolledBack:       "rolled back",
	}[e.Kind]
	if what == "" {
		what = string(e.Kind)
	}
	return e.Namespace + "/" + e.Deployment + ": " + what
}
