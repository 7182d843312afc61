package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// ReasonInvalidAnalysis is the Event reason for a rolloutd.io/analysis ConfigMap
// that is missing or holds invalid checks.
const ReasonInvalidAnalysis = "InvalidAnalysis"

// customChecks reads the ConfigMap named by rolloutd.io/analysis, if any, at each
// gate (a GET: gates are minutes apart, and reading it fresh means an edit applies
// at the next gate). A ConfigMap that cannot be read or parsed yields a failed
// check naming it, so the gate fails: a custom check that cannot run never passes.
func (r *rollout) customChecks(ctx context.Context) ([]contract.Check, *contract.CheckResult) {
	name := r.spec.Analysis
	if name == "" {
		return nil, nil
	}
	cm, err := r.c.Kube.CoreV1().ConfigMaps(r.d.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		var checks []contract.Check
		if checks, err = analysis.ParseCustomChecks(cm.Data); err == nil {
			return checks, nil
		}
	}
	msg := fmt.Sprintf("ConfigMap %s/%s named by %s: %v", r.d.Namespace, name, contract.KeyAnalysis, err)
	r.event(corev1.EventTypeWarning, ReasonInvalidAnalysis, msg)
	return nil, &contract.CheckResult{Name: contract.KeyAnalysis, Verdict: contract.Fail, Reason: msg}
}
