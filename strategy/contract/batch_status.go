package contract

// Batch records the pod counts of a batch release. The stable count is written in
// the same update of the user's Deployment as this status, so a spec.replicas that
// differs from Stable was changed by someone else (a user or an HPA), and the plan
// adapts to it instead of writing it back.
type BatchStatus struct {
	// Desired is the total the release hands back at the end: the user's
	// spec.replicas when it began, moved by every later change of the stable's
	// size made by someone else.
	Desired int32 `json:"desired"`
	// Stable and Canary are the spec.replicas last written to the user's
	// Deployment and to the canary copy.
	Stable int32 `json:"stable"`
	Canary int32 `json:"canary"`
}
