//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// settleTimeout bounds how long requireInvariants waits for every rollout of a
// namespace to finish before it reports the first invariant still broken.
const settleTimeout = 3 * time.Minute

// requireInvariants waits until no rollout in ns is under way and then checks what
// must hold after any fault:
//   - opted-in Deployments are paused (the daemon holds them), opted-out ones are not;
//   - no -canary Deployment, Service or Ingress is left (so no split either);
//   - the phase is truthful: Succeeded means the stable runs that revision,
//     RolledBack means it does not;
//   - a Succeeded rollout's last gate passed every check.
//
// It fails with the last violation seen if they do not all hold within settleTimeout.
func requireInvariants(t *testing.T, kube kubernetes.Interface, ns string) {
	t.Helper()
	framework.Eventually(t, settleTimeout, "rollouts in "+ns+" settled with every invariant holding", func() (bool, error) {
		err := invariantViolation(context.Background(), kube, ns)
		return err == nil, err
	})
}

// invariantViolation returns the first broken invariant in ns, or nil.
func invariantViolation(ctx context.Context, kube kubernetes.Interface, ns string) error {
	deps, err := kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	sets, err := kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var errs []error
	for i := range deps.Items {
		d := &deps.Items[i]
		if d.Labels[contract.CanaryOfLabel] != "" {
			continue // generated objects are checked through their owner's name
		}
		errs = append(errs, deploymentViolation(d, sets.Items))
		errs = append(errs, generatedLeft(ctx, kube, ns, d.Name))
	}
	return errors.Join(errs...)
}

// deploymentViolation checks one user Deployment's pause flag and the truth of its
// status phase.
func deploymentViolation(d *appsv1.Deployment, sets []appsv1.ReplicaSet) error {
	st, err := contract.Read(d.Annotations)
	if err != nil {
		return fmt.Errorf("%s: %w", d.Name, err)
	}
	if !contract.Enabled(d.Annotations) {
		if d.Spec.Paused {
			return fmt.Errorf("%s: opted out but left paused", d.Name)
		}
		return nil
	}
	tmpl := workload.Revision(d.Spec.Template)
	switch {
	case st.Phase.Active():
		return fmt.Errorf("%s: still %s at weight %d (%s)", d.Name, st.Phase, st.Weight, st.Message)
	case st.Phase != contract.Idle && st.Revision != tmpl:
		return fmt.Errorf("%s: %s for revision %s but the template is %s (not picked up)", d.Name, st.Phase, st.Revision, tmpl)
	case !d.Spec.Paused:
		return fmt.Errorf("%s: opted in, %s, but not paused", d.Name, st.Phase)
	}
	running := runningRevision(d, sets)
	switch st.Phase {
	case contract.Succeeded:
		if running != st.Revision || !workload.RolledOut(d) {
			return fmt.Errorf("%s: Succeeded for %s but the stable runs %s (rolled out: %v)", d.Name, st.Revision, running, workload.RolledOut(d))
		}
		if !allPass(st.Checks) {
			return fmt.Errorf("%s: Succeeded for %s without a passing gate: %+v", d.Name, st.Revision, st.Checks)
		}
	case contract.RolledBack:
		if running == st.Revision {
			return fmt.Errorf("%s: RolledBack for %s but the stable runs it", d.Name, st.Revision)
		}
	}
	return nil
}

// runningRevision is the template hash of the Deployment's newest ReplicaSet
// that has replicas (the newest one when none has): a ReplicaSet of an unvetted
// template rolloutd scaled back to zero runs nothing.
func runningRevision(d *appsv1.Deployment, sets []appsv1.ReplicaSet) string {
	var best, newest *appsv1.ReplicaSet
	for i := range sets {
		rs := &sets[i]
		if !metav1.IsControlledBy(rs, d) {
			continue
		}
		if newest == nil || workload.RevisionNumber(rs) > workload.RevisionNumber(newest) {
			newest = rs
		}
		if *rs.Spec.Replicas > 0 && (best == nil || workload.RevisionNumber(rs) > workload.RevisionNumber(best)) {
			best = rs
		}
	}
	if best == nil {
		best = newest
	}
	if best == nil {
		return ""
	}
	return workload.Revision(best.Spec.Template)
}

func allPass(checks []contract.CheckResult) bool {
	for _, c := range checks {
		if c.Verdict != contract.Pass {
			return false
		}
	}
	return len(checks) > 0
}

// generatedLeft reports a -canary Deployment, Service or Ingress of name; it is
// only called for settled rollouts, so any of them is an orphan (and an Ingress
// with a weight is a split left behind).
func generatedLeft(ctx context.Context, kube kubernetes.Interface, ns, name string) error {
	canary := contract.CanaryName(name)
	if _, err := kube.AppsV1().Deployments(ns).Get(ctx, canary, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: canary Deployment left without an active rollout (%v)", name, err)
	}
	if _, err := kube.CoreV1().Services(ns).Get(ctx, canary, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: canary Service left without an active rollout (%v)", name, err)
	}
	ing, err := kube.NetworkingV1().Ingresses(ns).Get(ctx, canary, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		w := ""
		if ing != nil {
			w = ing.Annotations["nginx.ingress.kubernetes.io/canary-weight"]
		}
		return fmt.Errorf("%s: canary Ingress left without an active rollout, weight %q (%v)", name, w, err)
	}
	return nil
}

// stableWatch records, in resourceVersion order, every status a user Deployment
// of a namespace carried and every ReplicaSet created for one, so a test can
// prove that no template reached the stable pods before its own analysis passed.
type stableWatch struct {
	mu       sync.Mutex
	statuses []statusRecord
	created  []rsRecord
	err      error
}

type statusRecord struct {
	rv       int64
	owner    string
	revision string
	phase    contract.Phase
	passed   bool // every check of the last gate passed
}

type rsRecord struct {
	rv       int64
	owner    string
	revision string
	image    string
}

// watchStable starts recording in ns; ReplicaSets that exist already are the
// stable revisions the test started from.
func watchStable(t *testing.T, kube kubernetes.Interface, ns string) *stableWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sw := &stableWatch{}
	rsList, err := kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	dList, err := kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	rw, err := kube.AppsV1().ReplicaSets(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: rsList.ResourceVersion})
	require.NoError(t, err)
	dw, err := kube.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: dList.ResourceVersion})
	require.NoError(t, err)
	go sw.consume(ctx, rw)
	go sw.consume(ctx, dw)
	return sw
}

func (sw *stableWatch) consume(ctx context.Context, w watch.Interface) {
	consumeEvents(ctx, w, sw.record, func() { sw.fail(errors.New("watch closed early")) })
}

func (sw *stableWatch) fail(err error) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.err == nil && !errors.Is(err, context.Canceled) {
		sw.err = err
	}
}

func (sw *stableWatch) record(ev watch.Event) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	switch o := ev.Object.(type) {
	case *appsv1.ReplicaSet:
		owner := metav1.GetControllerOf(o)
		if ev.Type != watch.Added || owner == nil || strings.HasSuffix(owner.Name, "-canary") {
			return
		}
		sw.created = append(sw.created, rsRecord{rv: rv(o.ResourceVersion), owner: owner.Name,
			revision: workload.Revision(o.Spec.Template), image: o.Spec.Template.Spec.Containers[0].Image})
	case *appsv1.Deployment:
		if o.Labels[contract.CanaryOfLabel] != "" || ev.Type == watch.Deleted {
			return
		}
		st, err := contract.Read(o.Annotations)
		if err != nil {
			sw.err = err
			return
		}
		sw.statuses = append(sw.statuses, statusRecord{rv: rv(o.ResourceVersion), owner: o.Name,
			revision: st.Revision, phase: st.Phase, passed: allPass(st.Checks)})
	}
}

// requireOnlyVetted fails for any ReplicaSet created for a user Deployment whose
// revision had not, earlier in resourceVersion order, been recorded as Promoting
// or Succeeded after a gate in which every check passed. It returns the images
// that reached the stable pods, in creation order.
func (sw *stableWatch) requireOnlyVetted(t *testing.T) []string {
	t.Helper()
	sw.mu.Lock()
	defer sw.mu.Unlock()
	require.NoError(t, sw.err, "stable watch")
	var images []string
	for _, rs := range sw.created {
		images = append(images, rs.owner+"="+rs.image)
		require.True(t, sw.vettedBefore(rs), "ReplicaSet of %s running %s (revision %s, rv %d) was created before that revision passed analysis",
			rs.owner, rs.image, rs.revision, rs.rv)
	}
	return images
}

func (sw *stableWatch) vettedBefore(rs rsRecord) bool {
	for _, s := range sw.statuses {
		if s.rv < rs.rv && s.owner == rs.owner && s.revision == rs.revision && s.passed &&
			(s.phase == contract.Promoting || s.phase == contract.Succeeded) {
			return true
		}
	}
	return false
}

// stableImages lists the images the stable pods of name ever ran in a new
// ReplicaSet during the watch.
func (sw *stableWatch) stableImages(name string) []string {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	var out []string
	for _, rs := range sw.created {
		if rs.owner == name {
			out = append(out, rs.image)
		}
	}
	return out
}

// settledFor reports whether name's rollout of its current template has finished,
// returning the final status.
func settledFor(ctx context.Context, kube kubernetes.Interface, ns, name string) (contract.Status, bool, error) {
	d, err := kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return contract.Status{}, false, err
	}
	st, err := contract.Read(d.Annotations)
	if err != nil {
		return st, false, err
	}
	done := (st.Phase == contract.Succeeded || st.Phase == contract.RolledBack) && st.Revision == workload.Revision(d.Spec.Template)
	if !done {
		return st, false, fmt.Errorf("%s: %s at weight %d step %d (%s)", name, st.Phase, st.Weight, st.Step, st.Message)
	}
	return st, true, nil
}
