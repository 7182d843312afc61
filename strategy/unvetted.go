package strategy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// vettedRevisions are the revisions the stable pods may run, in the order a
// revert prefers them: the one being promoted, the one a rollback or an undo
// restores, and the one they ran before.
func vettedRevisions(st contract.Status) []string {
	var out []string
	if st.Phase == contract.Promoting && st.Revision != "" {
		out = append(out, st.Revision)
	}
	if st.Restore != "" {
		out = append(out, st.Restore)
	}
	return append(out, st.StableRevision)
}

// unvetted returns the revision of the stable's newest ReplicaSet when it has
// pods and no analysis vetted it, "" otherwise. The stable is un-paused to
// promote, restore or undo (or by hand, `kubectl rollout resume`); a template
// written at that instant is rolled out by the Deployment controller at once.
// Without a recorded stable revision nothing is known to compare with.
func unvetted(in Input) string {
	s := in.Stable
	if s.Newest == "" || s.NewestPods == 0 || in.Status.StableRevision == "" {
		return ""
	}
	if slices.Contains(vettedRevisions(in.Status), s.Newest) {
		return ""
	}
	return s.Newest
}

// baseline is the stable revision a rollout starting now records: the one the
// stable pods run, unless no analysis vetted it. A revert races the Deployment
// controller, which still holds the unvetted template as the Deployment's and may
// scale its ReplicaSet up again between two writes; a rollout started in such a
// moment must not take the unvetted revision for the stable one, or it would
// never be reverted and the canary would be judged against it. It then records
// the vetted revision the revert returns the pods to.
func baseline(in Input) string {
	vetted := vettedRevisions(in.Status)
	if in.Status.StableRevision == "" || slices.Contains(vetted, in.Stable.Running) {
		return in.Stable.Running
	}
	return vetted[0]
}

// revertUnvetted pauses the stable again and asks for its pods to return to a
// vetted revision. Canary and traffic stay as they are meanwhile (during a
// promotion the canary at full size carries everything); once the pods are back,
// the next decisions release the template as a canary, as any new template.
func revertUnvetted(in Input, rev string) Decision {
	st := in.Status
	to := vettedRevisions(st)
	msg := fmt.Sprintf("%s rolled out revision %s, which no analysis vetted: paused it again, its pods return to revision %s; "+
		"the new template is released as a canary", in.Name, rev, strings.Join(slices.Compact(to), " or "))
	d := Decision{Status: st, Stable: KeepPaused, Revert: &Revert{From: rev, To: to}, RequeueAfter: PollInterval}
	if st.Message != msg {
		d.Status.Message = msg
		d.Events = []Event{{Warning: true, Reason: contract.ReasonUnvetted, Message: msg}}
	}
	return d
}
