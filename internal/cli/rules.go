package cli

import (
	"fmt"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// allowed says whether verb makes sense for the rollout as it stands; the error
// explains what the operator can do instead. Undo is checked in undo.go because it
// also needs the kept revisions.
func allowed(v contract.Verb, r rollout) error {
	ph := r.st.Phase
	name := r.d.Name
	switch v {
	case contract.Promote:
		if ph == contract.Paused || ph == contract.Progressing {
			return nil
		}
	case contract.Pause:
		if ph == contract.Progressing {
			return nil
		}
		if ph == contract.Paused {
			return fmt.Errorf("%s is already paused; run `rolloutctl resume %s` or `rolloutctl promote %s`", name, name, name)
		}
	case contract.Resume:
		if ph == contract.Paused {
			return nil
		}
	case contract.Abort:
		switch ph {
		case contract.Progressing, contract.Paused, contract.PendingConfirmation:
			return nil
		case contract.Promoting:
			return fmt.Errorf("%s is already promoting revision %s; once it has finished, use `rolloutctl undo %s`", name, r.st.Revision, name)
		case contract.RollingBack:
			return fmt.Errorf("%s is already rolling back", name)
		}
		return fmt.Errorf("%s has no rollout in progress (phase %s)", name, phaseName(ph))
	case contract.Confirm:
		if ph == contract.PendingConfirmation {
			return nil
		}
	case contract.Retry:
		return retryAllowed(r)
	}
	return fmt.Errorf("cannot %s %s: phase is %s%s", v, name, phaseName(ph), hint(v))
}

// retryAllowed accepts a retry only while the template still holds the revision
// that was rolled back: a new template starts a new rollout by itself.
func retryAllowed(r rollout) error {
	name := r.d.Name
	if r.st.FailedRevision == "" || (r.st.Phase != contract.RolledBack && r.st.Phase != contract.Aborted) {
		return fmt.Errorf("cannot retry %s: no rolled-back revision (phase %s)", name, phaseName(r.st.Phase))
	}
	if t := r.template(); t != r.st.FailedRevision {
		return fmt.Errorf("cannot retry %s: the template (revision %s) is no longer the rolled-back revision %s and rolls out by itself",
			name, t, r.st.FailedRevision)
	}
	return nil
}

func hint(v contract.Verb) string {
	switch v {
	case contract.Promote:
		return " (promote approves a Paused or Progressing rollout)"
	case contract.Resume:
		return " (resume continues a Paused rollout)"
	case contract.Confirm:
		return " (confirm applies to a blue/green rollout in PendingConfirmation)"
	}
	return ""
}

func phaseName(p contract.Phase) string {
	if p == "" {
		return "unknown (rolloutd has not recorded a status yet)"
	}
	return string(p)
}
