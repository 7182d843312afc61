package cli

import (
	"context"
	"fmt"

	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy/contract"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// rollout is an opted-in Deployment with its decoded status.
type rollout struct {
	d  *appsv1.Deployment
	st contract.Status
}

// template is the rolloutd revision hash of the Deployment's pod template as
// written now.
func (r rollout) template() string { return workload.Revision(r.d.Spec.Template) }

// newRollout decodes the status of an opted-in Deployment.
func newRollout(d *appsv1.Deployment) (rollout, error) {
	if !contract.Enabled(d.Annotations) {
		return rollout{}, fmt.Errorf("deployment %s/%s is not managed by rolloutd (annotation %s is not \"true\")",
			d.Namespace, d.Name, contract.KeyEnabled)
	}
	st, err := contract.Read(d.Annotations)
	if err != nil {
		return rollout{}, fmt.Errorf("deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	return rollout{d: d, st: st}, nil
}

// getRollout reads one opted-in Deployment.
func getRollout(ctx context.Context, cs kubernetes.Interface, ns, name string) (rollout, error) {
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return rollout{}, fmt.Errorf("deployment %s/%s not found", ns, name)
	}
	if err != nil {
		return rollout{}, fmt.Errorf("get deployment %s/%s: %w", ns, name, err)
	}
	return newRollout(d)
}

// target resolves the namespace and clientset for a command on one Deployment.
func (a *App) target() (kubernetes.Interface, string, error) {
	cs, err := a.clients()
	if err != nil {
		return nil, "", err
	}
	ns, err := a.namespace()
	if err != nil {
		return nil, "", err
	}
	return cs, ns, nil
}

var metav1PatchOptions = metav1.PatchOptions{FieldManager: "rolloutctl"}
