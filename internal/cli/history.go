package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// revision is one row of history: a kept ReplicaSet of the Deployment, or the
// template / failed revision that rolloutd knows of but that has no ReplicaSet
// (a paused Deployment creates none for a template under analysis).
type revision struct {
	// Number is the deployment.kubernetes.io/revision; 0 without a ReplicaSet.
	Number   int64      `json:"revision,omitempty"`
	Template string     `json:"template"`
	Images   []string   `json:"images"`
	Created  *time.Time `json:"created,omitempty"`
	Outcome  string     `json:"outcome"`
}

func newHistoryCommand(a *App, name string) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "history NAME",
		Short: "List the Deployment's revisions with images and outcomes",
		Long: `List the revisions of a Deployment: one per kept ReplicaSet (its
deployment.kubernetes.io/revision number, rolloutd template revision, images and
creation time) within rolloutd.io/revision-history (default 10), plus the
template under release if it has no ReplicaSet yet.
The outcome comes from rolloutd's status: the rollout in progress or last ended,
and the recorded outcomes of earlier rollouts (at most rolloutd.io/revision-history,
one per revision); a revision without one (rolled out before opting in) shows
"not recorded" rather than a guess.`,
		Example: examples(name, "history web", "history web -o yaml", "undo web --to-revision 3"),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validOutput(output); err != nil {
				return err
			}
			cs, ns, err := a.target()
			if err != nil {
				return err
			}
			r, err := getRollout(cmd.Context(), cs, ns, args[0])
			if err != nil {
				return err
			}
			sets, err := replicaSets(cmd.Context(), cs, r.d)
			if err != nil {
				return err
			}
			revs := history(r, keptRevisions(r.d, sets))
			if output != "" {
				return writeStructured(a.Out, output, map[string][]revision{"items": revs})
			}
			return a.writeHistory(revs)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml")
	return c
}

// replicaSets lists the ReplicaSets the Deployment controls, newest revision first.
func replicaSets(ctx context.Context, cs kubernetes.Interface, d *appsv1.Deployment) ([]appsv1.ReplicaSet, error) {
	opts := metav1.ListOptions{}
	if d.Spec.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil {
			return nil, fmt.Errorf("deployment %s/%s selector: %w", d.Namespace, d.Name, err)
		}
		opts.LabelSelector = sel.String()
	}
	list, err := cs.AppsV1().ReplicaSets(d.Namespace).List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("list replicasets of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	var out []appsv1.ReplicaSet
	for _, rs := range list.Items {
		if metav1.IsControlledBy(&rs, d) {
			out = append(out, rs)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return workload.RevisionNumber(&out[i]) > workload.RevisionNumber(&out[j])
	})
	return out, nil
}

// history joins the ReplicaSets (newest first) with what the status records,
// oldest row first as kubectl rollout history prints.
func history(r rollout, sets []*appsv1.ReplicaSet) []revision {
	var out []revision
	seen := map[string]bool{}
	for i := len(sets) - 1; i >= 0; i-- {
		rs := sets[i]
		h := workload.Revision(rs.Spec.Template)
		seen[h] = true
		created := rs.CreationTimestamp.Time
		out = append(out, revision{Number: workload.RevisionNumber(rs), Template: h,
			Images: images(rs.Spec.Template), Created: &created, Outcome: knownOutcome(r, h, i == 0)})
	}
	st := r.st
	if f := st.FailedRevision; f != "" && !seen[f] && f != r.template() {
		out = append(out, revision{Template: f, Images: nil, Outcome: knownOutcome(r, f, false)})
		seen[f] = true
	}
	if t := r.template(); !seen[t] {
		out = append(out, revision{Template: t, Images: images(r.d.Spec.Template), Outcome: templateOutcome(r)})
	}
	return out
}

// knownOutcome is what rolloutd's status says about revision h; running marks the
// ReplicaSet with the highest revision number (the one the stable pods run).
func knownOutcome(r rollout, h string, running bool) string {
	st := r.st
	switch {
	case h == st.FailedRevision && (st.Phase == contract.RolledBack || st.Phase == contract.Aborted):
		return pastTense(st.Phase) + ": " + oneLine(st.Message)
	case h == st.FailedRevision:
		if rec, ok := st.Record(h); ok {
			return recordedOutcome(rec)
		}
		return "rolled back"
	case h == st.Revision && st.Phase.Active():
		return "in progress: " + progressLine(r)
	case running && h == st.Revision && st.Phase == contract.Succeeded:
		return "promoted by rolloutd; running"
	case running:
		return "running"
	}
	if rec, ok := st.Record(h); ok {
		return recordedOutcome(rec)
	}
	return "not recorded"
}

// recordedOutcome renders an outcome rolloutd recorded for an earlier rollout.
func recordedOutcome(rec contract.Record) string {
	switch rec.Phase {
	case contract.Succeeded:
		if rec.Reason == "Undone" {
			return "promoted (undo): " + oneLine(rec.Message)
		}
		return "promoted"
	case contract.RolledBack, contract.Aborted:
		return pastTense(rec.Phase) + ": " + oneLine(rec.Message)
	}
	return "not recorded"
}

// templateOutcome describes the Deployment's template when no ReplicaSet runs it.
func templateOutcome(r rollout) string {
	st, t := r.st, r.template()
	if t == st.Revision || t == st.FailedRevision {
		return knownOutcome(r, t, false)
	}
	return "template not rolled out yet (rolloutd has not started it)"
}

// images lists a template's container images, init containers first.
func images(t corev1.PodTemplateSpec) []string {
	var out []string
	for _, c := range t.Spec.InitContainers {
		out = append(out, c.Image)
	}
	for _, c := range t.Spec.Containers {
		out = append(out, c.Image)
	}
	return out
}

// writeHistory prints the revisions table.
func (a *App) writeHistory(revs []revision) error {
	var t table
	t.header("REVISION", "TEMPLATE", "IMAGES", "CREATED", "OUTCOME")
	now := a.now()
	for _, rv := range revs {
		num, created := "-", "-"
		if rv.Number > 0 {
			num = fmt.Sprint(rv.Number)
		}
		if rv.Created != nil {
			created = age(now, *rv.Created) + " ago"
		}
		imgs := strings.Join(rv.Images, ",")
		col := none
		switch {
		case strings.HasPrefix(rv.Outcome, "rolled back"), strings.HasPrefix(rv.Outcome, "aborted"):
			col = red
		case strings.HasPrefix(rv.Outcome, "promoted"), rv.Outcome == "running":
			col = green
		}
		t.add(cell{text: num}, cell{text: rv.Template}, cell{text: orDash(imgs)}, cell{text: created},
			cell{text: rv.Outcome, color: col})
	}
	return t.write(a.Out, "", palette{on: a.Terminal})
}
