package contract

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWithRecordKeepsTheLatestOutcomePerRevisionWithinTheLimit(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	st := Status{Phase: Progressing, Revision: "a"}
	end := func(rev string, phase Phase, msg string) {
		prev := st
		prev.Phase, prev.Revision = Progressing, rev
		next := prev
		next.Phase, next.Message, next.LastTransitionTime = phase, msg, at
		st = WithRecord(prev, next, 3)
		at = at.Add(time.Hour)
	}
	end("a", Succeeded, "revision a promoted")
	end("b", RolledBack, "gate at 20% failed 3 times")
	end("c", Aborted, "aborted by alice: latency")
	end("b", Succeeded, "revision b promoted")
	end("d", Succeeded, "revision d promoted")

	var revs []string
	for _, r := range st.Records {
		revs = append(revs, r.Revision+"="+string(r.Phase))
	}
	assert.Equal(t, []string{"c=Aborted", "b=Succeeded", "d=Succeeded"}, revs, "oldest first, one per revision, at most 3")
	r, ok := st.Record("c")
	require.True(t, ok)
	assert.Equal(t, "aborted by alice: latency", r.Message)
	_, ok = st.Record("a")
	assert.False(t, ok, "dropped beyond the limit")
}

func TestWithRecordIgnoresStatusesThatEndNothing(t *testing.T) {
	done := Status{Phase: Succeeded, Revision: "a", Records: []Record{{Revision: "a", Phase: Succeeded}}}
	tests := []struct {
		name       string
		prev, next Status
	}{
		{"still progressing", Status{Phase: Idle}, Status{Phase: Progressing, Revision: "a"}},
		{"already ended", done, done},
		{"no revision", Status{Phase: Idle}, Status{Phase: Succeeded}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.next, WithRecord(tt.prev, tt.next, 10))
		})
	}
}

func TestWithRecordBoundsTheMessage(t *testing.T) {
	next := WithRecord(Status{Phase: RollingBack, Revision: "a"},
		Status{Phase: RolledBack, Revision: "a", Message: strings.Repeat("x", 1000)}, 10)
	require.Len(t, next.Records, 1)
	assert.Len(t, next.Records[0].Message, maxRecordMessage+3)
}

// revision-history accepts up to 1000, but the records kept stay far below the
// API server's 256 KiB bound on an object's annotations.
func TestRecordsStayFarBelowTheAnnotationLimit(t *testing.T) {
	var st Status
	long := strings.Repeat("x", 1000)
	for i := 0; i < 1000; i++ {
		prev := st
		prev.Phase = Progressing
		next := st
		next.Phase, next.Revision, next.Message = RolledBack, fmt.Sprintf("rev%04d", i), long
		st = WithRecord(prev, next, 1000)
	}
	assert.Len(t, st.Records, MaxRecords)
	raw, err := st.Encode()
	require.NoError(t, err)
	assert.Less(t, len(raw), 20<<10)
}
