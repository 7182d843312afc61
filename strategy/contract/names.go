package contract

import "fmt"

// Labels and annotations rolloutd puts on what it generates.
const (
	// CanaryOfLabel names the user's Deployment on canary pods and objects.
	CanaryOfLabel = "rolloutd.io/canary-of"
	// RevisionAnnotation carries the template revision on the canary Deployment.
	RevisionAnnotation = "rolloutd.io/revision"
	// TemplateHashAnnotation carries the revision of a ReplicaSet's template once
	// the informer has stripped the template itself.
	TemplateHashAnnotation = "rolloutd.io/template-hash"
	PodTemplateHashLabel   = "pod-template-hash"
)

// MaxDeploymentName is the longest Deployment name rolloutd manages. The API
// server cuts a pod's generated name base to 58 characters; past 49 the canary's
// pods ("<name>-canary-<hash>-…") would keep no character of their ReplicaSet
// hash, and their names could no longer be told from the stable pods' (the
// analysis queries select pods by name). "<name>-canary" is then also a valid
// Service name (63 characters at most).
const MaxDeploymentName = 49

// maxSubdomain is the longest name of an Ingress (a DNS subdomain).
const maxSubdomain = 253

// NameLimits returns why rolloutd cannot generate its objects for Deployment name
// and the user's Ingress (nil when it can), naming the limit.
func NameLimits(name, ingress string) error {
	if len(name) > MaxDeploymentName {
		return fmt.Errorf("deployment name %q is %d characters; rolloutd manages Deployments of at most %d characters "+
			"(the canary's pods, %s-<hash>-<suffix>, are named from it and the API server cuts pod names)",
			name, len(name), MaxDeploymentName, CanaryName(name))
	}
	if n := len(ingress) + len("-canary"); n > maxSubdomain {
		return fmt.Errorf("ingress name %q is %d characters; its canary Ingress %s-canary would exceed the %d-character limit of a name "+
			"(an Ingress of at most %d characters)", ingress, len(ingress), ingress, maxSubdomain, maxSubdomain-len("-canary"))
	}
	return nil
}

// CanarySuffix ends the name of every canary Deployment and Service.
const CanarySuffix = "-canary"

// CanaryName is the name of the canary Deployment and its Service.
func CanaryName(deployment string) string { return deployment + CanarySuffix }
