package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/kubernetes"
)

// defaultRevisionHistory is rolloutd.io/revision-history's default.
const defaultRevisionHistory = 10

func newUndoCommand(a *App, name string) *cobra.Command {
	var to int64
	var now bool
	c := &cobra.Command{
		Use:   "undo NAME",
		Short: "Roll back to an earlier kept revision",
		Long: `Ask rolloutd to return the Deployment to an earlier revision (default: the one
before the running revision). rolloutd releases it through a fast canary, or at once
with --now. Only revisions kept as ReplicaSets, within rolloutd.io/revision-history
(default 10), can be chosen; list them with history. Refused while a rollout is in
progress: abort it first.`,
		Example: examples(name, "undo web", "undo web --to-revision 3", "undo web --to-revision 3 --now"),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := a.clients()
			if err != nil {
				return err
			}
			base := contract.Command{Verb: contract.Undo, Now: now, By: a.user()}
			return a.request(cmd, args[0], func(r rollout) (contract.Command, error) {
				return resolveUndo(cmd.Context(), cs, r, to, base)
			})
		},
	}
	c.Flags().Int64Var(&to, "to-revision", 0, "revision number to return to (see history); default: the previous one")
	c.Flags().BoolVar(&now, "now", false, "switch at once instead of through a fast canary")
	return c
}

// resolveUndo checks that an undo makes sense and fills in the target revision's
// number and template hash: the revision to (0 = the one before the running
// revision) must be kept and must not be the running one.
func resolveUndo(ctx context.Context, cs kubernetes.Interface, r rollout, to int64, c contract.Command) (contract.Command, error) {
	name := r.d.Name
	if r.st.Phase.Active() {
		return c, fmt.Errorf("cannot undo %s: a rollout is in progress (phase %s); run `rolloutctl abort %s` first",
			name, r.st.Phase, name)
	}
	sets, err := replicaSets(ctx, cs, r.d)
	if err != nil {
		return c, err
	}
	if len(sets) == 0 {
		return c, fmt.Errorf("cannot undo %s: it has no ReplicaSet, so no revision is kept", name)
	}
	target, err := pickRevision(name, keptRevisions(r.d, sets), to)
	if err != nil {
		return c, err
	}
	c.Revision = workload.RevisionNumber(target)
	c.Template = workload.Revision(target.Spec.Template)
	return c, nil
}

// keptRevisions are the ReplicaSets rolloutd.io/revision-history keeps, newest first.
func keptRevisions(d *appsv1.Deployment, sets []appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	keep := defaultRevisionHistory
	if s, err := contract.Parse(d.Name, d.Annotations); err == nil && s.RevisionHistory > 0 {
		keep = s.RevisionHistory
	}
	ptrs := make([]*appsv1.ReplicaSet, len(sets))
	for i := range sets {
		ptrs[i] = &sets[i]
	}
	return workload.Kept(d, ptrs, keep)
}

// pickRevision finds revision to among the kept ReplicaSets (newest first; the
// first one runs); 0 picks the previous one.
func pickRevision(name string, sets []*appsv1.ReplicaSet, to int64) (*appsv1.ReplicaSet, error) {
	running := workload.RevisionNumber(sets[0])
	if to == 0 {
		if len(sets) < 2 {
			return nil, fmt.Errorf("cannot undo %s: no revision before the running revision %d is kept", name, running)
		}
		return sets[1], nil
	}
	if to == running {
		return nil, fmt.Errorf("cannot undo %s: revision %d is the running revision", name, to)
	}
	kept := make([]string, 0, len(sets))
	for i := range sets {
		n := workload.RevisionNumber(sets[i])
		if n == to {
			return sets[i], nil
		}
		kept = append(kept, fmt.Sprint(n))
	}
	return nil, fmt.Errorf("cannot undo %s: revision %d is not kept (kept: %s)", name, to, strings.Join(kept, ", "))
}
