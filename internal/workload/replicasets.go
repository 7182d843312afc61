package workload

import (
	"sort"
	"strconv"

	"github.com/rolloutd/rolloutd/strategy/contract"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RevisionNumberAnnotation is the Deployment controller's revision counter.
const RevisionNumberAnnotation = "deployment.kubernetes.io/revision"

// SlimReplicaSet is the informer transform for ReplicaSets: it keeps the owner,
// counts and revision number, replaces the pod template by its revision hash, and
// drops everything else, so thousands of ReplicaSets cost little memory. The full
// template of a kept revision is read from the API when needed (undo).
func SlimReplicaSet(obj any) (any, error) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return obj, nil
	}
	if _, slim := rs.Annotations[contract.TemplateHashAnnotation]; slim && len(rs.Spec.Template.Spec.Containers) == 0 {
		// Already slim: a streaming list passes every object through the
		// transform twice, and hashing the dropped template would record the
		// revision of an empty one.
		return rs, nil
	}
	ann := map[string]string{contract.TemplateHashAnnotation: Revision(rs.Spec.Template)}
	if v, ok := rs.Annotations[RevisionNumberAnnotation]; ok {
		ann[RevisionNumberAnnotation] = v
	}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:              rs.Name,
			Namespace:         rs.Namespace,
			UID:               rs.UID,
			ResourceVersion:   rs.ResourceVersion,
			CreationTimestamp: rs.CreationTimestamp,
			OwnerReferences:   rs.OwnerReferences,
			Annotations:       ann,
		},
		Spec:   appsv1.ReplicaSetSpec{Replicas: rs.Spec.Replicas, Template: corev1.PodTemplateSpec{}},
		Status: rs.Status,
	}, nil
}

// RevisionNumber is a ReplicaSet's Deployment revision number (0 if unknown).
func RevisionNumber(rs *appsv1.ReplicaSet) int64 {
	n, _ := strconv.ParseInt(rs.Annotations[RevisionNumberAnnotation], 10, 64)
	return n
}

// Running returns the revision hash the Deployment's pods run: that of its
// ReplicaSet with the highest revision number among those that have replicas
// (the newest one when none has). A paused Deployment creates no ReplicaSet for a
// changed template, so this is the last promoted revision; a ReplicaSet of an
// unvetted template that rolloutd scaled back to zero is not running.
func Running(d *appsv1.Deployment, sets []*appsv1.ReplicaSet) string {
	best := newest(d, sets, true)
	if best == nil {
		best = newest(d, sets, false)
	}
	return TemplateHash(best)
}

// Newest returns the revision hash and spec.replicas of the Deployment's
// ReplicaSet with the highest revision number: the one its controller created
// for the template it rolls out ("" and 0 without one).
func Newest(d *appsv1.Deployment, sets []*appsv1.ReplicaSet) (string, int32) {
	best := newest(d, sets, false)
	if best == nil {
		return "", 0
	}
	return TemplateHash(best), ptrValue(best.Spec.Replicas)
}

func newest(d *appsv1.Deployment, sets []*appsv1.ReplicaSet, withReplicas bool) *appsv1.ReplicaSet {
	var best *appsv1.ReplicaSet
	for _, rs := range sets {
		if !metav1.IsControlledBy(rs, d) || (withReplicas && ptrValue(rs.Spec.Replicas) == 0) {
			continue
		}
		if best == nil || RevisionNumber(rs) > RevisionNumber(best) {
			best = rs
		}
	}
	return best
}

// TemplateHash is the revision hash of a ReplicaSet's template, slim or full
// ("" for nil).
func TemplateHash(rs *appsv1.ReplicaSet) string {
	if rs == nil {
		return ""
	}
	if h, ok := rs.Annotations[contract.TemplateHashAnnotation]; ok {
		return h
	}
	return Revision(rs.Spec.Template)
}

// ptrValue is *n, or 1 when unset (the API's default for replicas).
func ptrValue(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

// Kept is the Deployment's own ReplicaSets, newest revision first, trimmed to the
// keep newest (rolloutd.io/revision-history; all of them when keep is 0): the
// revisions an undo may return to.
func Kept(d *appsv1.Deployment, sets []*appsv1.ReplicaSet, keep int) []*appsv1.ReplicaSet {
	var own []*appsv1.ReplicaSet
	for _, rs := range sets {
		if metav1.IsControlledBy(rs, d) {
			own = append(own, rs)
		}
	}
	sort.SliceStable(own, func(i, j int) bool { return RevisionNumber(own[i]) > RevisionNumber(own[j]) })
	if keep > 0 && len(own) > keep {
		own = own[:keep]
	}
	return own
}
