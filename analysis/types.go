// Package analysis owns everything rolloutd asks Prometheus: the query templates for
// each metric source, the comparison of the canary with the stable pods (the
// baseline), the judge that turns samples into a verdict, and fail-closed handling of
// errors and missing data. Nothing but a passing Result moves a rollout forward.
// It imports only strategy/contract.
package analysis

import (
	"github.com/rolloutd/rolloutd/strategy/contract"
	"time"
)

// Target says whose metrics a gate compares: the canary and the stable pods of one
// Deployment over one window ending at End.
type Target struct {
	Namespace  string
	Deployment string // the user's (stable) Deployment
	Canary     string // the canary Deployment, "<deployment>-canary"
	Service    string // the user's Service
	Ingress    string // the user's Ingress (source nginx)
	Source     contract.Source
	// StatusLabel names the response-status label of the source's request
	// metric; empty means the analyzer's setting for the source.
	StatusLabel string
	Window      time.Duration
	End         time.Time
	// BaselineOffset, when set, measures the stable side over the window ending
	// that long before End (PromQL offset): after a blue/green switch the stable
	// pods serve no traffic, so their figures come from before the switch.
	BaselineOffset time.Duration
}

// Result is the outcome of one gate: every check's result and the overall verdict
// (Fail if any check failed, else Inconclusive if any was inconclusive, else Pass).
type Result struct {
	Verdict contract.Verdict       `json:"verdict"`
	Checks  []contract.CheckResult `json:"checks"`
}

// Combine computes the overall verdict of a set of check results.
func Combine(checks []contract.CheckResult) Result {
	r := Result{Verdict: contract.Pass, Checks: checks}
	for _, c := range checks {
		switch c.Verdict {
		case contract.Fail:
			r.Verdict = contract.Fail
		case contract.Inconclusive:
			if r.Verdict == contract.Pass {
				r.Verdict = contract.Inconclusive
			}
		case contract.Pass:
		default:
			r.Verdict = contract.Fail
		}
	}
	if len(checks) == 0 {
		r.Verdict = contract.Inconclusive
	}
	return r
}

// FailedNames lists the checks that did not pass, for messages and Events.
func (r Result) FailedNames() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Verdict != contract.Pass {
			out = append(out, c.Name)
		}
	}
	return out
}
