package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// writeList renders the rollouts table.
func (a *App) writeList(w io.Writer, rs []rollout, canaries map[string]*appsv1.Deployment, withNS bool) error {
	if len(rs) == 0 {
		_, err := fmt.Fprintln(w, "No rollouts found (no Deployment has rolloutd.io/enabled: \"true\").")
		return err
	}
	var t table
	cols := []string{"NAME", "PHASE", "REVISION", "WEIGHT", "STEP", "CANARY", "CHECKS", "AGE", "MESSAGE"}
	if withNS {
		cols = append([]string{"NAMESPACE"}, cols...)
	}
	t.header(cols...)
	now := a.now()
	for _, r := range rs {
		st := r.st
		row := []cell{
			{text: r.d.Name},
			{text: phaseText(st.Phase), color: phaseColor(st.Phase)},
			{text: shownRevision(st)},
			{text: fmt.Sprintf("%d%%", st.Weight)},
			{text: stepText(st)},
			{text: canaryText(canaries[r.d.Namespace+"/"+r.d.Name])},
			checksSummary(st.Checks),
			{text: age(now, st.LastTransitionTime)},
			{text: orDash(oneLine(st.Message))},
		}
		if withNS {
			row = append([]cell{{text: r.d.Namespace}}, row...)
		}
		t.add(row...)
	}
	return t.write(w, "", palette{on: a.Terminal})
}

// detail is the one-rollout view of get NAME.
type detail struct {
	r      rollout
	canary *appsv1.Deployment
	events []corev1.Event
	now    time.Time
	p      palette
}

func (v detail) write(w io.Writer) error {
	var b strings.Builder
	v.writeSummary(&b)
	b.WriteString("\nChecks:\n")
	v.writeChecks(&b, v.r.st.Checks)
	if s := v.r.st.Standing; s != nil {
		fmt.Fprintf(&b, "\nJudged continuously (evidence since the canary's first traffic, as of %s ago):\n", age(v.now, s.At))
		v.writeChecks(&b, s.Checks)
	}
	b.WriteString("\nEvents:\n")
	v.writeEvents(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

func (v detail) writeSummary(b *strings.Builder) {
	d, st := v.r.d, v.r.st
	ann := d.Annotations
	field := func(k, val string) { fmt.Fprintf(b, "%-11s %s\n", k+":", val) }
	field("Name", d.Name)
	field("Namespace", d.Namespace)
	field("Strategy", fmt.Sprintf("%s via %s", annOr(ann, contract.KeyStrategy, "canary"), annOr(ann, contract.KeyRouter, "service")))
	field("Phase", fmt.Sprintf("%s (for %s)", v.p.paint(phaseColor(st.Phase), phaseText(st.Phase)), age(v.now, st.LastTransitionTime)))
	rev := shownRevision(st)
	if st.StableRevision != "" && st.StableRevision != rev {
		rev += " (stable " + st.StableRevision + ")"
	}
	if t := v.r.template(); t != rev && t != st.Revision && t != st.StableRevision {
		rev += " (template " + t + ", not started)"
	}
	field("Revision", rev)
	field("Weight", fmt.Sprintf("%d%% on the canary", st.Weight))
	field("Progress", progressBar(st, stepWeights(d)))
	field("Canary", canaryText(v.canary)+" pods ready")
	if st.Batch != nil {
		field("Batch", fmt.Sprintf("%s: %s", stepText(st), batchPods(st.Batch)))
	}
	if st.Failures > 0 {
		field("Failures", fmt.Sprint(st.Failures))
	}
	if st.FailedRevision != "" {
		field("Failed", "revision "+st.FailedRevision+" (not retried until the template changes or `retry`)")
	}
	field("Message", orDash(st.Message))
	if c, ok := contract.Decode(ann); ok {
		field("Pending", describe(c)+" (not applied by rolloutd yet)")
	}
}

func (v detail) writeChecks(b *strings.Builder, checks []contract.CheckResult) {
	if len(checks) == 0 {
		b.WriteString("  none evaluated yet\n")
		return
	}
	var t table
	t.header("NAME", "VERDICT", "CANARY", "BASELINE", "REASON")
	for _, c := range checks {
		t.add(cell{text: c.Name}, cell{text: string(c.Verdict), color: verdictColor(c.Verdict)},
			cell{text: value(c.Value)}, cell{text: value(c.Baseline)}, cell{text: orDash(oneLine(c.Reason))})
	}
	_ = t.write(b, "  ", v.p)
}

func (v detail) writeEvents(b *strings.Builder) {
	if len(v.events) == 0 {
		b.WriteString("  none\n")
		return
	}
	var t table
	t.header("AGE", "TYPE", "REASON", "MESSAGE")
	for _, e := range v.events {
		col := none
		if e.Type == corev1.EventTypeWarning {
			col = yellow
		}
		t.add(cell{text: age(v.now, EventTime(e))}, cell{text: e.Type, color: col}, cell{text: e.Reason},
			cell{text: oneLine(e.Message)})
	}
	_ = t.write(b, "  ", v.p)
}

// stepWeights reads the steps annotation for the progress bar; nil when invalid.
func stepWeights(d *appsv1.Deployment) []int {
	s, err := contract.Parse(d.Name, d.Annotations)
	if err != nil {
		return nil
	}
	return s.Steps
}

func annOr(ann map[string]string, key, def string) string {
	if v := ann[key]; v != "" {
		return v
	}
	return def
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
