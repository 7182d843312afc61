package cli

import (
	"context"
	"testing"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// fakeWatch makes every watch on Deployments deliver changes, in order, on an
// open channel: the rollout states the daemon would write.
func fakeWatch(cs *fake.Clientset, changes ...*appsv1.Deployment) {
	w := watch.NewFakeWithChanSize(len(changes)+1, false)
	for _, d := range changes {
		w.Modify(d)
	}
	cs.PrependWatchReactor("deployments", k8stesting.DefaultWatchReactor(w, nil))
}

func at(image string, st *contract.Status) *appsv1.Deployment { return deployment(image, st) }

func progressing(image string) *contract.Status {
	st := paused(image)
	st.Phase, st.Reason, st.Message = contract.Progressing, "StepAdvanced", "step 3/5: 30% of traffic on the canary"
	st.Step, st.Weight = 3, 30
	return st
}

func TestStatusExitCodes(t *testing.T) {
	const img = "shop/web:2.0"
	promoted := &contract.Status{Phase: contract.Succeeded, Revision: rev(img), StableRevision: rev(img),
		Message: "revision promoted", LastTransitionTime: now}
	rolledBack := withPhase(contract.RolledBack)
	rolledBack.Message = "gate at 30% failed 3 times: error-rate<=1%+baseline: 4.1% > 1.2%"
	rolledBack3 := progressing("shop/web:3.0")
	rolledBack3.Phase, rolledBack3.FailedRevision = contract.RolledBack, rev("shop/web:3.0")
	aborted := withPhase(contract.Aborted)
	aborted.Message = "aborted by bob"
	idleRunning := &contract.Status{Phase: contract.Idle, StableRevision: rev(img), LastTransitionTime: now}
	oldSuccess := &contract.Status{Phase: contract.Succeeded, Revision: rev("shop/web:1.0"), StableRevision: rev("shop/web:1.0")}
	tests := []struct {
		name     string
		initial  *appsv1.Deployment
		changes  []*appsv1.Deployment
		wantCode int
		wantOut  []string
	}{
		{"promoted after progress", at(img, paused(img)),
			[]*appsv1.Deployment{at(img, progressing(img)), at(img, promoted)}, ExitOK,
			[]string{"Paused revision", "Progressing revision " + rev(img) + " step 3/5 weight 30%", "revision " + rev(img) + " promoted"}},
		{"rolled back", at(img, progressing(img)), []*appsv1.Deployment{at(img, rolledBack)}, ExitFailed,
			[]string{"web: revision " + rev(img) + " rolled back: gate at 30% failed"}},
		{"aborted", at(img, paused(img)), []*appsv1.Deployment{at(img, aborted)}, ExitFailed,
			[]string{"aborted: aborted by bob"}},
		{"idle with the template running exits at once", at(img, idleRunning), nil, ExitOK,
			[]string{"is running; nothing to roll out"}},
		{"an earlier success waits for the new template", at(img, oldSuccess),
			[]*appsv1.Deployment{at(img, progressing(img)), at(img, promoted)}, ExitOK, []string{"Succeeded revision", "promoted"}},
		{"an older revision's rollback is not the template's outcome", at("shop/web:3.0", rolledBack),
			[]*appsv1.Deployment{at("shop/web:3.0", progressing("shop/web:3.0")), at("shop/web:3.0", rolledBack3)}, ExitFailed,
			[]string{"Progressing revision " + rev("shop/web:3.0"), "revision " + rev("shop/web:3.0") + " rolled back"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset(tc.initial)
			fakeWatch(cs, tc.changes...)
			res := runCLI(t, cs, "status", "web", "--timeout", "30s")
			assert.Equal(t, tc.wantCode, res.code, "stdout:\n%s\nstderr:\n%s", res.out, res.err)
			for _, s := range tc.wantOut {
				assert.Contains(t, res.out, s)
			}
		})
	}
}

func TestStatusErrors(t *testing.T) {
	notEnabled := at("shop/web:2.0", paused("shop/web:2.0"))
	notEnabled.Annotations["rolloutd.io/enabled"] = "false"
	tests := []struct {
		name    string
		initial *appsv1.Deployment
		changes []*appsv1.Deployment
		args    []string
		want    string
	}{
		{"unknown deployment", nil, nil, []string{"status", "api"}, "deployment shop/api not found"},
		{"not opted in", notEnabled, nil, []string{"status", "web"}, "not managed by rolloutd"},
		{"timeout", at("shop/web:2.0", paused("shop/web:2.0")), nil, []string{"status", "web", "--timeout", "20ms"},
			"timed out after 20ms waiting for shop/web (Paused revision"},
		{"opted out while waiting", at("shop/web:2.0", paused("shop/web:2.0")), []*appsv1.Deployment{notEnabled}, []string{"status", "web"},
			"not managed by rolloutd"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			if tc.initial != nil {
				cs = fake.NewClientset(tc.initial)
			}
			fakeWatch(cs, tc.changes...)
			res := runCLI(t, cs, tc.args...)
			assert.Equal(t, ExitError, res.code)
			assert.Contains(t, res.err, tc.want)
		})
	}
}

func TestStatusDeletedWhileWaiting(t *testing.T) {
	d := at("shop/web:2.0", paused("shop/web:2.0"))
	cs := fake.NewClientset(d)
	w := watch.NewFakeWithChanSize(1, false)
	w.Delete(d)
	cs.PrependWatchReactor("deployments", k8stesting.DefaultWatchReactor(w, nil))
	res := runCLI(t, cs, "status", "web")
	assert.Equal(t, ExitError, res.code)
	assert.Contains(t, res.err, "deployment shop/web was deleted")
}

func TestStatusInterruptedIsAnError(t *testing.T) {
	cs := fake.NewClientset(at("shop/web:2.0", paused("shop/web:2.0")))
	ctx, cancel := context.WithCancel(context.Background())
	cs.PrependWatchReactor("deployments", func(k8stesting.Action) (bool, watch.Interface, error) {
		cancel()
		return true, watch.NewFake(), nil
	})
	res := runCLIContext(t, ctx, cs, "status", "web")
	require.Equal(t, ExitError, res.code)
	assert.Contains(t, res.err, "interrupted while waiting for shop/web")
}
