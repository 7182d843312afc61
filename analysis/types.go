// Package analysis owns everything rolloutd asks Prometheus: the query templates for
// each metric source, the comparison of the canary with the stable pods (the
// baseline), the judge that turns samples into a verdict, and fail-closed handling of
// errors and missing data. Nothing but a passing Result moves a rollout forward.
package analysis

import "time"

// Verdict is the outcome of one check or of a whole gate.
type Verdict string

// Verdicts. Inconclusive means there was not enough traffic to judge; it never
// promotes, and the strategy counts it as a failure after a documented limit.
const (
	Pass         Verdict = "Pass"
	Fail         Verdict = "Fail"
	Inconclusive Verdict = "Inconclusive"
)

// Source names the metrics a target's request checks read.
type Source string

// Request metric sources, one per router.
const (
	SourceNginx   Source = "nginx"   // ingress-nginx controller metrics
	SourceIstio   Source = "istio"   // Istio standard metrics: served at the destination, mesh-answered at the source
	SourceService Source = "service" // the application's own per-pod request metrics
)

// Target says whose metrics a gate compares: the canary and the stable pods of one
// Deployment over one window ending at End.
type Target struct {
	Namespace  string
	Deployment string // the user's (stable) Deployment
	Canary     string // the canary Deployment, "<deployment>-canary"
	Service    string // the user's Service
	Ingress    string // the user's Ingress (source nginx)
	Source     Source
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

// CheckResult is one check's outcome at one gate, as stored in the status annotation.
type CheckResult struct {
	Name     string   `json:"name"`
	Value    *float64 `json:"value,omitempty"`
	Baseline *float64 `json:"baseline,omitempty"`
	Verdict  Verdict  `json:"verdict"`
	Reason   string   `json:"reason,omitempty"`
}

// Result is the outcome of one gate: every check's result and the overall verdict
// (Fail if any check failed, else Inconclusive if any was inconclusive, else Pass).
type Result struct {
	Verdict Verdict       `json:"verdict"`
	Checks  []CheckResult `json:"checks"`
}

// Combine computes the overall verdict of a set of check results.
func Combine(checks []CheckResult) Result {
	r := Result{Verdict: Pass, Checks: checks}
	for _, c := range checks {
		switch c.Verdict {
		case Fail:
			r.Verdict = Fail
		case Inconclusive:
			if r.Verdict == Pass {
				r.Verdict = Inconclusive
			}
		case Pass:
		default:
			r.Verdict = Fail
		}
	}
	if len(checks) == 0 {
		r.Verdict = Inconclusive
	}
	return r
}

// FailedNames lists the checks that did not pass, for messages and Events.
func (r Result) FailedNames() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Verdict != Pass {
			out = append(out, c.Name)
		}
	}
	return out
}
