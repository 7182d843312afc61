package workload

import (
	"strconv"

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
	if _, slim := rs.Annotations[TemplateHashAnnotation]; slim && len(rs.Spec.Template.Spec.Containers) == 0 {
		// Already slim: a streaming list passes every object through the
		// transform twice, and hashing the dropped template would record the
		// revision of an empty one.
		return rs, nil
	}
	ann := map[string]string{TemplateHashAnnotation: Revision(rs.Spec.Template)}
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
// ReplicaSet with the highest revision number. A paused Deployment creates no
// ReplicaSet for a changed template, so this is the last promoted revision.
func Running(d *appsv1.Deployment, sets []*appsv1.ReplicaSet) string {
	var best *appsv1.ReplicaSet
	for _, rs := range sets {
		if !metav1.IsControlledBy(rs, d) {
			continue
		}
		if best == nil || RevisionNumber(rs) > RevisionNumber(best) {
			best = rs
		}
	}
	if best == nil {
		return ""
	}
	if h, ok := best.Annotations[TemplateHashAnnotation]; ok {
		return h
	}
	return Revision(best.Spec.Template)
}
