package strategy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// mustSpec parses the annotations a user would write (opted in, plus kv pairs).
func mustSpec(t *testing.T, kv ...string) contract.Spec {
	t.Helper()
	ann := map[string]string{contract.KeyEnabled: "true"}
	for i := 0; i+1 < len(kv); i += 2 {
		ann[kv[i]] = kv[i+1]
	}
	s, err := contract.Parse("web", ann)
	require.NoError(t, err)
	return s
}

// world drives Step the way the controller does: each decision's status becomes
// the next input's status, and the test changes what the cluster shows in between.
type world struct {
	t    *testing.T
	in   Input
	prev contract.Status // the status before the last decision
	last Decision
}

// newWorld is a 10-replica Deployment running revision s1, opted in and Idle.
func newWorld(t *testing.T, sp contract.Spec) *world {
	return &world{t: t, in: Input{
		Name:         "web",
		Now:          t0,
		Spec:         sp,
		Status:       contract.Status{Phase: contract.Idle, StableRevision: "s1", LastTransitionTime: t0},
		Stable:       Stable{Template: "s1", Running: "s1", Desired: 10, RolledOut: true},
		ReadyTimeout: 10 * time.Minute,
	}}
}

// step runs one decision; one-shot inputs (gate, command, alert) are consumed.
func (w *world) step() Decision {
	w.t.Helper()
	w.prev = w.in.Status
	d := Step(w.in)
	w.in.Status = d.Status
	w.in.Gate, w.in.Command, w.in.Alert = nil, nil, nil
	w.last = d
	return d
}

func (w *world) after(d time.Duration) *world { w.in.Now = w.in.Now.Add(d); return w }

func (w *world) template(rev string) *world { w.in.Stable.Template = rev; return w }

func (w *world) canary(rev string, ready int32) *world {
	w.in.Canary = Canary{Exists: true, Revision: rev, Ready: ready}
	return w
}

func (w *world) noCanary() *world { w.in.Canary = Canary{}; return w }

func (w *world) command(v contract.Verb) *world {
	w.in.Command = &contract.Command{Verb: v, By: "alice"}
	return w
}

// gate evaluates a due gate with verdict v, as the controller would.
func (w *world) gate(v contract.Verdict) Decision {
	w.t.Helper()
	require.True(w.t, GateDue(w.in), "gate evaluated before it was due (status %+v, now %s)", w.in.Status, w.in.Now)
	res := result(v)
	w.in.Gate = &res
	return w.step()
}

func result(v contract.Verdict) analysis.Result {
	reason := ""
	if v != contract.Pass {
		reason = "canary 5xx 7% > stable 0.2% + 1%"
	}
	return analysis.Result{Verdict: v, Checks: []contract.CheckResult{
		{Name: "error-rate", Verdict: v, Reason: reason},
		{Name: "cpu", Verdict: contract.Pass},
	}}
}

// startRollout changes the template to rev and brings step 1 to its weight.
func (w *world) startRollout(rev string) Decision {
	w.t.Helper()
	w.template(rev)
	d := w.step()
	require.Equal(w.t, contract.Progressing, d.Status.Phase)
	w.canary(rev, d.CanaryReplicas).after(5 * time.Second)
	d = w.step()
	require.NotNil(w.t, d.Status.StepStartedAt)
	return d
}

// passStep waits out the interval, passes the gate and makes the next step's
// canary pods Ready, returning the decision that moved traffic.
func (w *world) passStep() Decision {
	w.t.Helper()
	w.after(w.in.Spec.Interval)
	d := w.gate(contract.Pass)
	if d.Status.Phase != contract.Progressing || d.Status.StepStartedAt != nil {
		return d
	}
	w.canary(w.in.Canary.Revision, d.CanaryReplicas).after(5 * time.Second)
	return w.step()
}

func reasons(es []Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Reason)
	}
	return out
}
