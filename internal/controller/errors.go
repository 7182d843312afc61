package controller

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
)

// ReasonPermissionDenied is the Event reason when the API server refuses one of
// the daemon's requests: the user sees on their Deployment which right is missing
// instead of a rollout that silently stops moving.
const ReasonPermissionDenied = "PermissionDenied"

// reportError records a Warning Event on the Deployment for errors its owner can
// act on (a missing RBAC right). Other errors are retried and logged only. The event
// recorder folds repeats of the same message into one Event with a count.
func (c *Controller) reportError(key string, err error) {
	if !apierrors.IsForbidden(err) {
		return
	}
	ns, name, splitErr := cache.SplitMetaNamespaceKey(key)
	if splitErr != nil {
		return
	}
	d, getErr := c.Informers.Deployment(ns, name)
	if getErr != nil {
		return
	}
	c.Recorder.Event(d, corev1.EventTypeWarning, ReasonPermissionDenied,
		fmt.Sprintf("rolloutd lacks a permission: %v (grant it in the daemon's Role or ClusterRole)", err))
}
