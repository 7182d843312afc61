package contract

import (
	"strings"
	"time"
)

// Record is the outcome of one finished rollout, kept so that `rolloutctl history`
// can say what became of revisions older than the latest one.
type Record struct {
	// Revision is the template revision the rollout released.
	Revision string `json:"revision"`
	// Phase is how it ended: Succeeded, RolledBack or Aborted.
	Phase   Phase     `json:"phase"`
	Reason  string    `json:"reason,omitempty"`
	Message string    `json:"message,omitempty"`
	At      time.Time `json:"at"`
}

// maxRecordMessage bounds a record's message, so the annotation stays small.
const maxRecordMessage = 200

// MaxRecords bounds the records kept whatever rolloutd.io/revision-history says
// (it accepts up to 1000, for undo's sake): 50 records of at most about 350 bytes
// keep the status annotation under 20 KiB, far below the API server's 256 KiB for
// all annotations of an object, so the status write of a rollback never fails
// for its size.
const MaxRecords = 50

// ended reports whether a rollout ends in phase p.
func ended(p Phase) bool { return p == Succeeded || p == RolledBack || p == Aborted }

// WithRecord returns next with its outcome recorded when next ends a rollout that
// prev had not ended yet. Records keep one entry per revision (the latest) and at
// most keep entries, dropping the oldest: rolloutd's bounded memory of revisions,
// set by rolloutd.io/revision-history.
func WithRecord(prev, next Status, keep int) Status {
	if !ended(next.Phase) || (prev.Phase == next.Phase && prev.Revision == next.Revision) || next.Revision == "" {
		return next
	}
	msg := next.Message
	if len(msg) > maxRecordMessage {
		msg = msg[:maxRecordMessage] + "..."
	}
	recs := make([]Record, 0, len(next.Records)+1)
	for _, r := range next.Records {
		if r.Revision != next.Revision {
			recs = append(recs, r)
		}
	}
	recs = append(recs, Record{Revision: next.Revision, Phase: next.Phase, Reason: next.Reason,
		Message: strings.TrimSpace(msg), At: next.LastTransitionTime})
	if keep <= 0 || keep > MaxRecords {
		keep = MaxRecords
	}
	if len(recs) > keep {
		recs = recs[len(recs)-keep:]
	}
	next.Records = recs
	return next
}

// Record returns the recorded outcome of revision, if one is kept.
func (s Status) Record(revision string) (Record, bool) {
	for i := len(s.Records) - 1; i >= 0; i-- {
		if s.Records[i].Revision == revision {
			return s.Records[i], true
		}
	}
	return Record{}, false
}
