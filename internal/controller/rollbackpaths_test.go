package controller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// A typo in an annotation mid-rollout must not disable a single rollback path: the
// rollout is held at its last valid settings, named in a Warning Event, and abort,
// alerts and failed gates still take traffic off the canary.
func TestInvalidAnnotationsMidRolloutKeepEveryRollbackPath(t *testing.T) {
	cases := []struct {
		name   string
		act    func(h *harness)
		reason string
	}{
		{"abort", func(h *harness) { h.command("abort") }, contract.ReasonAborted},
		{"alert", func(h *harness) { h.markAlert(t0.Add(15 * time.Second)) }, contract.ReasonAlert},
		{"failed gates", func(h *harness) {
			h.eval.verdict = "Fail"
			for i := 0; i < 3 && h.status().Phase != contract.RollingBack; i++ {
				h.clock.SetTime(h.clock.Now().Add(2 * time.Minute))
				h.sync()
			}
		}, contract.ReasonGateFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := atWeight10(t, contract.KeyInterval, "1m")
			h.edit(func(d *appsv1.Deployment) { d.Annotations[contract.KeyInterval] = "5x" })
			h.clock.SetTime(t0.Add(20 * time.Second))
			h.sync()
			st := h.status()
			assert.Equal(t, contract.Progressing, st.Phase)
			assert.Contains(t, st.Invalid, contract.KeyInterval)
			assert.Contains(t, strings.Join(h.events(), "\n"), "Warning "+ReasonInvalidSpec+" invalid annotations: annotation rolloutd.io/interval=\"5x\"")

			tc.act(h)
			h.sync()
			st = h.status()
			require.Contains(t, []contract.Phase{contract.RollingBack, contract.RolledBack, contract.Aborted}, st.Phase, st.Message)
			assert.Equal(t, tc.reason, st.Reason)
			assert.Equal(t, 0, st.Weight)
			assert.False(t, h.exists("ingresses", "web-canary"), "traffic is back on stable")
		})
	}
}

// A held rollout never advances: a passing gate keeps the weight and the step.
func TestInvalidAnnotationsMidRolloutHoldTheStep(t *testing.T) {
	h := atWeight10(t, contract.KeyInterval, "1m")
	h.edit(func(d *appsv1.Deployment) { d.Annotations[contract.KeySteps] = "10,twenty" })
	for i := 0; i < 3; i++ {
		h.clock.SetTime(h.clock.Now().Add(2 * time.Minute))
		h.sync()
	}
	st := h.status()
	assert.Equal(t, contract.Progressing, st.Phase)
	assert.Equal(t, 10, st.Weight)
	assert.Equal(t, 1, st.Step)
	assert.Equal(t, contract.ReasonInvalidSpec, st.Reason)
	assert.Positive(t, h.eval.calls(), "gates still run while held")
	w, _ := h.ingressWeight()
	assert.Equal(t, 10, w)

	h.edit(func(d *appsv1.Deployment) { d.Annotations[contract.KeySteps] = "10,20" })
	h.clock.SetTime(h.clock.Now().Add(2 * time.Minute))
	h.sync()
	assert.Equal(t, 2, h.status().Step, "fixed annotations let it advance again")
	assert.Empty(t, h.status().Invalid)
}

// hangingEvaluator is a Prometheus that never answers: Evaluate returns only when
// its context ends.
type hangingEvaluator struct{ started chan struct{} }

func (e *hangingEvaluator) Evaluate(ctx context.Context, _ analysis.Target, _ []contract.Check) analysis.Result {
	close(e.started)
	<-ctx.Done()
	return analysis.Result{Verdict: contract.Fail}
}

// Alerts and commands go before any query: one already marked skips the gate due,
// and one arriving while a gate hangs cancels it.
func TestInterventionsNeverWaitBehindAGate(t *testing.T) {
	t.Run("marked before the gate", func(t *testing.T) {
		h := atWeight10(t)
		h.clock.SetTime(t0.Add(2 * time.Minute))
		h.markAlert(t0.Add(90 * time.Second))
		h.sync()
		assert.Zero(t, h.eval.calls(), "no query before the rollback")
		assert.Equal(t, contract.RollingBack, h.status().Phase)
	})
	for _, verb := range []string{"", "abort"} {
		name := "alert arriving during a hanging gate"
		if verb != "" {
			name = verb + " arriving during a hanging gate"
		}
		t.Run(name, func(t *testing.T) {
			h := atWeight10(t)
			hang := &hangingEvaluator{started: make(chan struct{})}
			h.ctl.Analyzer = hang
			h.ctl.GateTimeout = time.Hour
			h.clock.SetTime(t0.Add(2 * time.Minute))
			h.settle()
			done := make(chan error, 1)
			go func() { _, err := h.ctl.Sync(h.ctx, key); done <- err }()
			<-hang.started
			if verb == "" {
				h.markAlert(t0.Add(90 * time.Second))
			} else {
				h.command(verb)
			}
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Fatal("the gate in flight was not cancelled")
			}
			assert.Equal(t, contract.Progressing, h.status().Phase, "the cancelled gate is not judged")
			h.sync()
			st := h.status()
			assert.Equal(t, contract.RollingBack, st.Phase)
			assert.Equal(t, 0, st.Weight)
			assert.False(t, h.exists("ingresses", "web-canary"))
		})
	}
}

// A rollback whose status cannot be written (an admission policy refusing it)
// still takes traffic off the canary, and says so in an Event and a metric.
func TestRollbackTakesTrafficOffEvenIfItsStatusCannotBeWritten(t *testing.T) {
	h := atWeight10(t)
	h.kube.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.UpdateAction).GetObject().(*appsv1.Deployment)
		if d.Name == "web" && strings.Contains(d.Annotations[contract.StatusKey], `"RollingBack"`) {
			return true, nil, apierrors.NewForbidden(deploymentsGVR.GroupResource(), d.Name, errors.New("denied by policy"))
		}
		return false, nil, nil
	})
	h.clock.SetTime(t0.Add(20 * time.Second))
	h.markAlert(t0.Add(15 * time.Second))
	h.settle()
	_, err := h.ctl.Sync(h.ctx, key)
	require.Error(t, err)
	assert.False(t, h.exists("ingresses", "web-canary"), "traffic left the canary")
	assert.Equal(t, contract.Progressing, h.status().Phase, "the status write was refused")
	assert.Contains(t, strings.Join(h.events(), "\n"), "Warning "+ReasonStatusWriteFailed)
	assert.Equal(t, 1.0, testutil.ToFloat64(h.ctl.Metrics.StatusWriteFailures.WithLabelValues("forbidden")))
}
