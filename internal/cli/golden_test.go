package cli

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// cluster is a namespace with three rollouts in different phases, a canary copy,
// a Deployment that is not opted in, and Events.
func cluster() []runtime.Object {
	web := deployment("shop/web:2.0", paused("shop/web:2.0"), "rolloutd.io/pause-at", "20,40",
		contract.CommandKey, `{"verb":"promote","by":"bob"}`)
	failed := progressing("shop/api:1.4")
	failed.Phase, failed.Reason, failed.Weight = contract.RolledBack, "GateFailed", 0
	failed.Message = "gate at 30% failed 3 times: error-rate<=1%+baseline: canary 4.1% > baseline 0.3% + 1%"
	failed.FailedRevision, failed.LastTransitionTime = failed.Revision, now.Add(-26*time.Hour)
	failed.Checks = []contract.CheckResult{
		{Name: "error-rate<=1%+baseline", Value: fp(0.041), Baseline: fp(0.003), Verdict: contract.Fail, Reason: "canary 4.1% > baseline 0.3% + 1%"},
		{Name: "cpu<=1.3x", Value: fp(0.25), Baseline: fp(0.24), Verdict: contract.Pass},
		{Name: "latency-p99<=1.2x", Verdict: contract.Inconclusive, Reason: "no data: 0 requests to the canary"},
	}
	api := named(deployment("shop/api:1.4", failed), "api")
	idle := named(deployment("shop/cart:3.1", &contract.Status{Phase: contract.Idle, StableRevision: rev("shop/cart:3.1"),
		Message: "watching for a new pod template", LastTransitionTime: now.Add(-72 * time.Hour)}), "cart")
	plain := named(deployment("shop/db:1", nil), "db")
	plain.Annotations = nil
	canary := named(deployment("shop/web:2.0", nil), "web-canary")
	canary.Labels = map[string]string{contract.CanaryOfLabel: "web"}
	canary.Annotations = map[string]string{contract.RevisionAnnotation: rev("shop/web:2.0")}
	one := int32(1)
	canary.Spec.Replicas = &one
	canary.Status = appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1}
	return []runtime.Object{web, api, idle, plain, canary,
		event("e1", "web", corev1.EventTypeNormal, "StepAdvanced", "step 1/5: 10% of traffic on the canary", 9*time.Minute),
		event("e2", "web", corev1.EventTypeNormal, "GatePassed", "gate at 10% passed (step 1/5)", 8*time.Minute),
		event("e3", "web", corev1.EventTypeWarning, "GateInconclusive", "gate at 20% inconclusive (1 of 2 allowed): latency-p99<=1.2x: no data", 5*time.Minute),
		event("e4", "web", corev1.EventTypeNormal, "Paused", "step 2/5 at 20% passed; waiting for approval: run `rolloutctl promote web`", 3*time.Minute),
		event("e5", "api", corev1.EventTypeWarning, "RollingBack", "rolling back: gate at 30% failed 3 times", 26*time.Hour),
	}
}

func named(d *appsv1.Deployment, name string) *appsv1.Deployment {
	d.Name, d.UID = name, types.UID("uid-"+name)
	return d
}

func event(id, obj, typ, reason, msg string, ago time.Duration) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: obj + "." + id, Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: "Deployment", Name: obj, Namespace: ns},
		Type:           typ, Reason: reason, Message: msg,
		LastTimestamp: metav1.NewTime(now.Add(-ago)),
	}
}

func TestGetOutput(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"get-list", []string{"get"}},
		{"get-list-all-namespaces", []string{"get", "-A"}},
		{"get-one", []string{"get", "web"}},
		{"get-one-rolled-back", []string{"get", "api"}},
		{"get-one-json", []string{"get", "web", "-o", "json"}},
		{"get-list-yaml", []string{"get", "-o", "yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			res := runCLI(t, fake.NewClientset(cluster()...), tc.args...)
			require.Equal(t, ExitOK, res.code, res.err)
			golden(t, tc.golden, res.out)
		})
	}
}

func TestGetEmptyNamespace(t *testing.T) {
	res := runCLI(t, fake.NewClientset(), "get")
	require.Equal(t, ExitOK, res.code, res.err)
	golden(t, "get-list-empty", res.out)
}

func TestGetColoursOnATerminal(t *testing.T) {
	var out, errb bytes.Buffer
	a := &App{Out: &out, Err: &errb, Clientset: fake.NewClientset(cluster()...), Terminal: true,
		Now: func() time.Time { return now }}
	require.Equal(t, ExitOK, Execute(context.Background(), a, "rolloutctl", []string{"-n", ns, "get"}), errb.String())
	golden(t, "get-list-terminal", out.String())
}

// get -w prints a frame per change: the initial state, then the state the watch
// reports; it ends quietly when interrupted.
func TestGetWatchRedrawsOnChange(t *testing.T) {
	objs := cluster()
	cs := fake.NewClientset(objs...)
	next := deployment("shop/web:2.0", progressing("shop/web:2.0"), "rolloutd.io/pause-at", "20,40")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	cs.PrependWatchReactor("deployments", func(k8stesting.Action) (bool, watch.Interface, error) {
		calls++
		if calls > 1 {
			cancel()
			return true, nil, errors.New("interrupted")
		}
		require.NoError(t, cs.Tracker().Update(appsv1.SchemeGroupVersion.WithResource("deployments"), next, ns))
		w := watch.NewFakeWithChanSize(2, false)
		w.Modify(next)
		w.Modify(next) // an unchanged frame is not drawn again
		w.Stop()
		return true, w, nil
	})
	res := runCLIContext(t, ctx, cs, "get", "web", "-w")
	require.Equal(t, ExitOK, res.code, res.err)
	golden(t, "get-one-watch", res.out)
}

func TestHistoryOutput(t *testing.T) {
	failed := progressing("shop/web:4.0")
	failed.Phase, failed.FailedRevision, failed.StableRevision = contract.RolledBack, rev("shop/web:4.0"), rev("shop/web:3.0")
	failed.Message = "gate at 30% failed 3 times: error-rate<=1%+baseline: canary 4.1% > baseline 0.3% + 1%"
	inProgress := progressing("shop/web:4.0")
	inProgress.StableRevision = rev("shop/web:3.0")
	tests := []struct {
		golden string
		d      *appsv1.Deployment
		args   []string
	}{
		{"history-promoted", deployment("shop/web:3.0", succeeded()), []string{"history", "web"}},
		{"history-rolled-back", deployment("shop/web:4.0", failed), []string{"history", "web"}},
		{"history-in-progress", deployment("shop/web:4.0", inProgress), []string{"history", "web"}},
		{"history-yaml", deployment("shop/web:4.0", failed), []string{"history", "web", "-o", "yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			res := runCLI(t, fake.NewClientset(withRevisions(tc.d)...), tc.args...)
			require.Equal(t, ExitOK, res.code, res.err)
			golden(t, tc.golden, res.out)
		})
	}
}

func TestHelpAsKubectlPlugin(t *testing.T) {
	var out bytes.Buffer
	a := &App{Out: &out, Err: &out}
	require.Equal(t, ExitOK, Execute(context.Background(), a, DisplayName("/usr/local/bin/kubectl-rollouts"), []string{"promote", "--help"}))
	golden(t, "help-plugin-promote", out.String())
}

func TestBadOutputFormat(t *testing.T) {
	res := runCLI(t, fake.NewClientset(cluster()...), "get", "-o", "wide")
	require.Equal(t, ExitError, res.code)
	require.Equal(t, "rolloutctl: unknown output format \"wide\" (use json or yaml)\n", res.err)
}

// get NAME shows, under the last gate's checks, the continuous judge's standing
// the status holds while a step waits: each check with its figures and bound,
// and how old the standing is.
func TestGetShowsTheContinuousStanding(t *testing.T) {
	st := progressing("shop/web:2.0")
	st.Standing = &contract.Standing{At: now.Add(-12 * time.Second), Checks: []contract.CheckResult{
		{Name: "error-rate", Value: fp(0.0007), Baseline: fp(0.001), Verdict: contract.Inconclusive,
			Reason: "error rate not yet told from its limit (canary 0.07% in [0.006%, 0.28%] from 11489 requests, stable 0.1% in [0.04%, 0.2%] from 46146; limit 0.1% + 1%; anytime-valid, false-rollback bound 0.005)"},
		{Name: "cpu", Value: fp(0.21), Baseline: fp(0.22), Verdict: contract.Inconclusive,
			Reason: "CPU not yet told above its limit (canary 0.21 per pod against 1.3x the stable's 0.22 for the same work, over 30 ticks; excess -0.076, at least -0.09; anytime-valid (asymptotic), false-rollback bound 0.005)"},
	}}
	res := runCLI(t, fake.NewClientset(deployment("shop/web:2.0", st)), "get", "web")
	require.Equal(t, ExitOK, res.code, res.err)
	golden(t, "get-one-standing", res.out)
}
