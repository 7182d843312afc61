package contract

// ManagedByLabel and ManagedByValue mark every object rolloutd generates.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "rolloutd"
)

// RulesAnnotation holds, on a user's HTTPRoute being split, its spec.rules as
// the user wrote them (JSON), so that every way out restores them exactly.
const RulesAnnotation = "rolloutd.io/route-rules"

// GeneratedLabels returns the labels of an object generated for deployment.
func GeneratedLabels(deployment string) map[string]string {
	return map[string]string{ManagedByLabel: ManagedByValue, CanaryOfLabel: deployment}
}
