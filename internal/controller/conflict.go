package controller

import (
	"context"
	"maps"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedappsv1 "k8s.io/client-go/kubernetes/typed/apps/v1"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// conflictRetries bounds how often one write is rebased onto a fresher object.
const conflictRetries = 5

// updateOnUnrelatedConflict writes upd, which is base (the cached user Deployment
// this reconcile decided on) with this reconcile's changes. When the update
// conflicts only because of edits the decision did not depend on — the same spec
// and the same rolloutd.io annotations — the changes are
// rebased onto the fresh object and written again: written in the other order
// the two edits give the same result. Without this, a tool that keeps touching
// another annotation starves the rollout in an endless conflict and backoff loop.
// Any other conflict is returned, so the key is requeued and decided afresh.
func updateOnUnrelatedConflict(ctx context.Context, api typedappsv1.DeploymentInterface, base, upd *appsv1.Deployment) (*appsv1.Deployment, error) {
	for attempt := 0; ; attempt++ {
		out, err := api.Update(ctx, upd, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) || attempt == conflictRetries {
			return out, err
		}
		fresh, getErr := api.Get(ctx, upd.Name, metav1.GetOptions{})
		if getErr != nil || !onlyUnrelatedChanges(base, fresh) {
			return out, err
		}
		upd = rebase(upd, fresh)
	}
}

// onlyUnrelatedChanges reports whether fresh differs from base only in ways a
// reconcile ignores: its status, labels, or annotations outside rolloutd.io/.
func onlyUnrelatedChanges(base, fresh *appsv1.Deployment) bool {
	// Not the generation: the API server bumps a Deployment's generation on any
	// annotation change too.
	return base.UID == fresh.UID && apiequality.Semantic.DeepEqual(base.Spec, fresh.Spec) &&
		maps.Equal(ownAnnotations(base.Annotations), ownAnnotations(fresh.Annotations))
}

// rebase puts upd's spec and rolloutd.io annotations onto fresh.
func rebase(upd, fresh *appsv1.Deployment) *appsv1.Deployment {
	out := fresh.DeepCopy()
	out.ManagedFields = nil
	out.Spec = *upd.Spec.DeepCopy()
	ann := map[string]string{}
	for k, v := range fresh.Annotations {
		if !strings.HasPrefix(k, contract.Prefix) {
			ann[k] = v
		}
	}
	maps.Copy(ann, ownAnnotations(upd.Annotations))
	out.Annotations = ann
	return out
}

func ownAnnotations(ann map[string]string) map[string]string {
	own := map[string]string{}
	for k, v := range ann {
		if strings.HasPrefix(k, contract.Prefix) {
			own[k] = v
		}
	}
	return own
}
