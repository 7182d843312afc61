package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
)

func newStatusCommand(a *App, name string) *cobra.Command {
	timeout := 10 * time.Minute
	c := &cobra.Command{
		Use:   "status NAME",
		Short: "Wait for the rollout of the current revision to end (for CI)",
		Long: `Wait until the rollout of the Deployment's current pod template ends, printing
one line per change. Exit code 0 when the revision is promoted (or is already
running), 1 when it was rolled back or aborted, 2 on an error or the timeout.`,
		Example: examples(name, "status web", "status web --timeout 30m -n shop"),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, ns, err := a.target()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			w := &waiter{a: a}
			err = follow(ctx, deploymentsSource(cs, ns, args[0]), w.observe)
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("timed out after %s waiting for %s/%s (%s)", timeout, ns, args[0], w.last)
			}
			if errors.Is(err, context.Canceled) {
				return fmt.Errorf("interrupted while waiting for %s/%s (%s)", ns, args[0], w.last)
			}
			if err != nil {
				return err
			}
			return w.result
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", timeout, "give up (exit 2) after this long")
	return c
}

// waiter follows one rollout until its current revision has an outcome.
type waiter struct {
	a      *App
	last   string
	result error
}

// observe prints a progress line when the rollout changed and decides whether
// the current revision's rollout has ended.
func (w *waiter) observe(d *appsv1.Deployment) (bool, error) {
	r, err := newRollout(d)
	if err != nil {
		return false, err
	}
	if line := progressLine(r); line != w.last {
		w.last = line
		fmt.Fprintf(w.a.Out, "%s %s: %s\n", w.a.now().UTC().Format(time.TimeOnly), d.Name, line)
	}
	done, code, msg := outcome(r)
	if done && code != ExitOK {
		w.result = &exitError{code: code, msg: d.Name + ": " + msg}
	} else if done {
		fmt.Fprintf(w.a.Out, "%s: %s\n", d.Name, msg)
	}
	return done, nil
}

// outcome decides whether the rollout of the Deployment's current template has
// ended, and how.
func outcome(r rollout) (done bool, code int, msg string) {
	st, tmpl := r.st, r.template()
	switch {
	case st.Phase == contract.Succeeded && st.Revision == tmpl:
		return true, ExitOK, fmt.Sprintf("revision %s promoted", tmpl)
	case st.Phase != "" && !st.Phase.Active() && st.StableRevision == tmpl:
		return true, ExitOK, fmt.Sprintf("revision %s is running; nothing to roll out", tmpl)
	case (st.Phase == contract.RolledBack || st.Phase == contract.Aborted) && st.FailedRevision == tmpl:
		return true, ExitFailed, fmt.Sprintf("revision %s %s: %s", tmpl, pastTense(st.Phase), st.Message)
	}
	return false, 0, ""
}

func pastTense(p contract.Phase) string {
	if p == contract.Aborted {
		return "aborted"
	}
	return "rolled back"
}

// progressLine is one CI log line: phase, step, weight, checks and message.
func progressLine(r rollout) string {
	st := r.st
	s := phaseText(st.Phase)
	if st.Revision != "" {
		s += " revision " + st.Revision
	}
	if st.Steps > 0 && st.Phase.Active() {
		s += fmt.Sprintf(" step %s weight %d%%", stepText(st), st.Weight)
	}
	if len(st.Checks) > 0 {
		s += " checks " + checksSummary(st.Checks).text
	}
	if st.Message != "" {
		s += " - " + oneLine(st.Message)
	}
	return s
}
