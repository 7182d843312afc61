package cli

import (
	"errors"
	"fmt"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/spf13/cobra"
)

// verbSpec describes one simple operator verb.
type verbSpec struct {
	verb    contract.Verb
	short   string
	long    string
	example string
}

var simpleVerbs = []verbSpec{
	{contract.Promote, "Approve the current gate and continue the rollout",
		"Approve the gate a rollout waits at (rolloutd.io/pause-at) and let it take the next step.\nWith --full the remaining steps are skipped and the revision is promoted.",
		"promote web"},
	{contract.Pause, "Hold a progressing rollout at its current step",
		"Hold a progressing rollout at its current weight until resume or promote.", "pause web"},
	{contract.Resume, "Continue a paused rollout",
		"Continue a paused rollout: the current step is analysed again over a fresh window.", "resume web"},
	{contract.Abort, "Roll back the rollout in progress now",
		"Move all traffic back to the stable pods and remove the canary now. The revision\nis not retried until the template changes (or `retry`).",
		"abort web"},
	{contract.Confirm, "Confirm a blue/green switch waiting in PendingConfirmation",
		"Confirm a blue/green switch that waits in PendingConfirmation (rolloutd.io/confirm: manual).", "confirm web"},
	{contract.Retry, "Run a rolled-back revision again",
		"Start a new rollout of the revision that was rolled back or aborted, while the\ntemplate still holds it.", "retry web"},
}

// verbCommands builds promote, pause, resume, abort, confirm and retry.
func verbCommands(a *App, name string) []*cobra.Command {
	out := make([]*cobra.Command, 0, len(simpleVerbs))
	for _, v := range simpleVerbs {
		out = append(out, newVerbCommand(a, name, v))
	}
	return out
}

func newVerbCommand(a *App, name string, v verbSpec) *cobra.Command {
	var full, skipAnalysis bool
	var reason string
	c := &cobra.Command{
		Use:     string(v.verb) + " NAME",
		Short:   v.short,
		Long:    v.long,
		Example: examples(name, v.example),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if skipAnalysis && !full {
				return errors.New("--skip-analysis goes with --full")
			}
			c := contract.Command{Verb: v.verb, Full: full, SkipAnalysis: skipAnalysis, Reason: reason, By: a.user()}
			return a.request(cmd, args[0], func(r rollout) (contract.Command, error) { return c, allowed(v.verb, r) })
		},
	}
	switch v.verb {
	case contract.Promote:
		c.Flags().BoolVar(&full, "full", false, "skip the remaining steps and promote the revision (needs a passing gate)")
		c.Flags().BoolVar(&skipAnalysis, "skip-analysis", false,
			"with --full: promote even without a passing gate (recorded as a Warning Event naming you)")
		c.Example = examples(name, "promote web", "promote web --full", "promote web --full --skip-analysis")
	case contract.Abort:
		c.Flags().StringVar(&reason, "reason", "", "why the rollout is aborted (recorded by rolloutd)")
		c.Example = examples(name, "abort web", `abort web --reason "p99 latency on the dashboard"`)
	}
	return c
}

// request sends a command and reports it on stdout.
func (a *App) request(cmd *cobra.Command, name string, build builder) error {
	cs, ns, err := a.target()
	if err != nil {
		return err
	}
	c, err := send(cmd.Context(), cs, ns, name, build)
	if errors.Is(err, errAlreadyPending) {
		fmt.Fprintf(a.Out, "%s: %s already requested; waiting for rolloutd to apply it\n", name, c.Verb)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Out, "%s: %s requested; rolloutd applies it at its next reconcile (follow with `rolloutctl get %s -w`)\n",
		name, describe(c), name)
	return nil
}
