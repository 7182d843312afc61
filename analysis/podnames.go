package analysis

import (
	"fmt"
	"regexp"
)

// Pod names as the API server makes them: a ReplicaSet "<deployment>-<hash>"
// creates its pods with generateName "<deployment>-<hash>-", and the server cuts
// that base to maxGeneratedBase characters before it appends 5 random ones. So a
// long Deployment name loses the end of its hash, or all of it, or the dash.
const (
	maxGeneratedBase = 63 - randomSuffix
	randomSuffix     = 5
	maxHash          = 10 // pod-template-hash: a 32-bit hash in at most 10 safe characters
)

// podPattern is the regexp (unquoted, Prometheus anchors it) matching the names of
// the pods of Deployment name's ReplicaSets and no others'. Names too long to
// leave one hash character are refused at opt-in, so k >= 1 below.
func podPattern(name string) string {
	const class = "[a-z0-9]"
	k := maxGeneratedBase - len(name) - 1 // characters left for "<hash>-"
	prefix := regexp.QuoteMeta(name) + "-"
	suffix := fmt.Sprintf("%s{%d}", class, randomSuffix)
	switch {
	case k > maxHash:
		return fmt.Sprintf("%s%s{1,%d}-%s", prefix, class, maxHash, suffix)
	case k <= 1:
		return fmt.Sprintf("%s%s{%d}%s", prefix, class, max(k, 0), suffix)
	}
	// The whole hash and its dash fit, or the hash was cut to k characters.
	return fmt.Sprintf("%s(%s{1,%d}-|%s{%d})%s", prefix, class, k-1, class, k, suffix)
}
