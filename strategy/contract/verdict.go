package contract

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

// CheckResult is one check's outcome at one gate, as stored in the status annotation.
type CheckResult struct {
	Name     string   `json:"name"`
	Value    *float64 `json:"value,omitempty"`
	Baseline *float64 `json:"baseline,omitempty"`
	Verdict  Verdict  `json:"verdict"`
	Reason   string   `json:"reason,omitempty"`
}
