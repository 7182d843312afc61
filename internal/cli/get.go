package cli

import (
	"bytes"
	"context"
	"fmt"
	"sort"

	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// getOptions are get's own flags.
type getOptions struct {
	watch         bool
	allNamespaces bool
	output        string
}

func newGetCommand(a *App, name string) *cobra.Command {
	var o getOptions
	c := &cobra.Command{
		Use:   "get [NAME]",
		Short: "Show rollouts: a table of all, or one in detail",
		Long: `Without NAME, list the opted-in Deployments of the namespace with their phase,
revision, canary weight, step, canary pods, check verdicts, time in the phase
(AGE) and message. With NAME, show one rollout in detail: each check's canary
value against its baseline, the steps, and the Deployment's recent Events.

With -w the view is redrawn on every change of the Deployment(s).`,
		Example: examples(name, "get", "get -A", "get web", "get web -w", "get web -o yaml"),
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validOutput(o.output); err != nil {
				return err
			}
			if len(args) == 1 {
				return a.getOne(cmd.Context(), args[0], o)
			}
			return a.getAll(cmd.Context(), o)
		},
	}
	c.Flags().BoolVarP(&o.watch, "watch", "w", false, "redraw on every change")
	c.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list rollouts in all namespaces")
	c.Flags().StringVarP(&o.output, "output", "o", "", "output format: json or yaml")
	return c
}

// getAll lists the rollouts of a namespace (or all), once or on every change.
func (a *App) getAll(ctx context.Context, o getOptions) error {
	cs, ns, err := a.target()
	if err != nil {
		return err
	}
	if o.allNamespaces {
		ns = metav1.NamespaceAll
	}
	render := func(*appsv1.Deployment) ([]byte, error) {
		rs, canaries, err := listRollouts(ctx, cs, ns)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if o.output != "" {
			err = writeStructured(&b, o.output, rolloutDocs(rs))
		} else {
			err = a.writeList(&b, rs, canaries, o.allNamespaces)
		}
		return b.Bytes(), err
	}
	if !o.watch {
		return a.writeFrame(func() ([]byte, error) { return render(nil) })
	}
	return a.redraw(ctx, deploymentsSource(cs, ns, ""), render)
}

// getOne shows one rollout in detail, once or on every change.
func (a *App) getOne(ctx context.Context, name string, o getOptions) error {
	cs, ns, err := a.target()
	if err != nil {
		return err
	}
	render := func(d *appsv1.Deployment) ([]byte, error) {
		r, err := newRollout(d)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if o.output != "" {
			err = writeStructured(&b, o.output, rolloutDoc(r))
			return b.Bytes(), err
		}
		v := detail{r: r, canary: getCanary(ctx, cs, ns, name), now: a.now(), p: palette{on: a.Terminal}}
		if v.events, err = recentEvents(ctx, cs, ns, name); err != nil {
			return nil, err
		}
		err = v.write(&b)
		return b.Bytes(), err
	}
	if !o.watch {
		r, err := getRollout(ctx, cs, ns, name)
		if err != nil {
			return err
		}
		return a.writeFrame(func() ([]byte, error) { return render(r.d) })
	}
	return a.redraw(ctx, deploymentsSource(cs, ns, name), render)
}

func (a *App) writeFrame(render func() ([]byte, error)) error {
	b, err := render()
	if err != nil {
		return err
	}
	_, err = a.Out.Write(b)
	return err
}

// listRollouts returns the opted-in Deployments sorted by namespace and name, and
// their canary copies keyed by namespace/name of the user's Deployment.
func listRollouts(ctx context.Context, cs kubernetes.Interface, ns string) ([]rollout, map[string]*appsv1.Deployment, error) {
	list, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("list deployments: %w", err)
	}
	var out []rollout
	canaries := map[string]*appsv1.Deployment{}
	for i := range list.Items {
		d := &list.Items[i]
		if of := d.Labels[contract.CanaryOfLabel]; of != "" {
			if d.Name == contract.CanaryName(of) {
				canaries[d.Namespace+"/"+of] = d
			}
			continue
		}
		if !contract.Enabled(d.Annotations) {
			continue
		}
		r, err := newRollout(d)
		if err != nil {
			// One unreadable status must not hide the others: show it as unknown.
			r = rollout{d: d}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].d.Namespace != out[j].d.Namespace {
			return out[i].d.Namespace < out[j].d.Namespace
		}
		return out[i].d.Name < out[j].d.Name
	})
	return out, canaries, nil
}

// getCanary reads the canary copy of a Deployment; nil when there is none.
func getCanary(ctx context.Context, cs kubernetes.Interface, ns, name string) *appsv1.Deployment {
	c, err := cs.AppsV1().Deployments(ns).Get(ctx, contract.CanaryName(name), metav1.GetOptions{})
	if err != nil || c.Labels[contract.CanaryOfLabel] != name {
		return nil
	}
	return c
}

// canaryText is "ready/desired" of the canary copy, or "-" without one.
func canaryText(c *appsv1.Deployment) string {
	if c == nil {
		return "-"
	}
	want := int32(1)
	if c.Spec.Replicas != nil {
		want = *c.Spec.Replicas
	}
	return fmt.Sprintf("%d/%d", workload.CanaryReady(c), want)
}
