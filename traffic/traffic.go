// Package traffic holds the small value types that strategies hand to routers: how
// much user traffic the canary gets, which requests are matched to it, and how many
// replicas each side runs. It has no behaviour beyond validation and comparison.
// It imports nothing of rolloutd's.
package traffic

import "fmt"

// MatchKind says which part of a request an A/B match looks at.
type MatchKind string

// The request attributes an A/B rule can match on.
const (
	MatchHeader MatchKind = "header"
	MatchCookie MatchKind = "cookie"
)

// Match routes every request it matches to the canary, whatever the weight.
type Match struct {
	Kind MatchKind
	// Name is the header or cookie name.
	Name string
	// Value is the exact header value; empty for a cookie (ingress-nginx sends
	// requests whose cookie value is "always" to the canary).
	Value string
	// Regex makes Value a regular expression (header only, where supported).
	Regex bool
}

// String renders the match in the rolloutd.io/match annotation's form.
func (m Match) String() string {
	switch {
	case m.Kind == MatchCookie:
		return "cookie:" + m.Name
	case m.Regex:
		return fmt.Sprintf("header:%s~%s", m.Name, m.Value)
	default:
		return fmt.Sprintf("header:%s=%s", m.Name, m.Value)
	}
}

// Split is the desired routing of user traffic between the stable and the canary.
// The zero value sends everything to the stable pods.
type Split struct {
	// CanaryWeight is the percentage (0..100) of unmatched traffic sent to the canary.
	CanaryWeight int
	// Match, when set, sends matching requests to the canary regardless of weight.
	Match *Match
	// MirrorPercent copies that share of requests to the canary (responses dropped).
	MirrorPercent int
	// Sticky keeps a client once routed to the canary on the canary (cookie).
	Sticky bool
}

// AllStable reports whether no user request can reach the canary.
func (s Split) AllStable() bool {
	return s.CanaryWeight == 0 && s.Match == nil && s.MirrorPercent == 0
}

// Validate reports a split no router can apply.
func (s Split) Validate() error {
	if s.CanaryWeight < 0 || s.CanaryWeight > 100 {
		return fmt.Errorf("traffic: canary weight %d outside 0..100", s.CanaryWeight)
	}
	if s.MirrorPercent < 0 || s.MirrorPercent > 100 {
		return fmt.Errorf("traffic: mirror percent %d outside 0..100", s.MirrorPercent)
	}
	return nil
}

// Replicas is how many pods each side of a release should run.
type Replicas struct {
	Stable int32
	Canary int32
}

// CanaryReplicas returns the canary size for a weight: proportional to the stable's
// desired replicas, rounded up, at least 1 while the canary exists.
func CanaryReplicas(desired int32, weight int) int32 {
	if desired <= 0 {
		return 1
	}
	n := (int64(desired)*int64(weight) + 99) / 100
	if n < 1 {
		n = 1
	}
	if n > int64(desired) {
		n = int64(desired)
	}
	return int32(n)
}
