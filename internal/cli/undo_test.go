package cli

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// withRevisions is d with ReplicaSets for revisions 1..3 (images :1.0, :2.0,
// :3.0), revision 3 running, plus a ReplicaSet of another Deployment.
func withRevisions(d *appsv1.Deployment) []runtime.Object {
	objs := []runtime.Object{d}
	for n := 1; n <= 3; n++ {
		objs = append(objs, replicaSet(d, n, fmt.Sprintf("shop/web:%d.0", n), now.Add(-time.Duration(4-n)*24*time.Hour)))
	}
	other := deployment("shop/api:1.0", nil)
	other.Name, other.UID = "api", "uid-api"
	stranger := replicaSet(other, 9, "shop/web:9", now)
	stranger.Name = "api-1"
	return append(objs, stranger)
}

func succeeded() *contract.Status {
	return &contract.Status{Phase: contract.Succeeded, Revision: rev("shop/web:3.0"), StableRevision: rev("shop/web:3.0"),
		Reason: "Promoted", Message: "revision promoted", LastTransitionTime: now.Add(-time.Hour)}
}

func TestUndoWritesResolvedRevision(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"previous revision by default", []string{"undo", "web"},
			fmt.Sprintf(`{"verb":"undo","revision":2,"template":"%s","by":"alice"}`, rev("shop/web:2.0"))},
		{"chosen revision at once", []string{"undo", "web", "--to-revision", "1", "--now"},
			fmt.Sprintf(`{"verb":"undo","revision":1,"template":"%s","now":true,"by":"alice"}`, rev("shop/web:1.0"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset(withRevisions(deployment("shop/web:3.0", succeeded()))...)
			res := runCLI(t, cs, tc.args...)
			require.Equal(t, ExitOK, res.code, res.err)
			assertCommandPatch(t, cs, tc.want)
		})
	}
}

func TestUndoRefused(t *testing.T) {
	tests := []struct {
		name  string
		st    *contract.Status
		extra []string
		args  []string
		want  string
	}{
		{"revision not kept", succeeded(), nil, []string{"undo", "web", "--to-revision", "9"}, "revision 9 is not kept (kept: 3, 2, 1)"},
		{"outside revision-history", succeeded(), []string{"rolloutd.io/revision-history", "2"},
			[]string{"undo", "web", "--to-revision", "1"}, "revision 1 is not kept (kept: 3, 2)"},
		{"the running revision", succeeded(), nil, []string{"undo", "web", "--to-revision", "3"}, "revision 3 is the running revision"},
		{"during a rollout", withPhase(contract.Progressing), nil, []string{"undo", "web"}, "a rollout is in progress (phase Progressing)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := deployment("shop/web:3.0", tc.st, tc.extra...)
			cs := fake.NewClientset(withRevisions(d.DeepCopy())...)
			res := runCLI(t, cs, tc.args...)
			assert.Equal(t, ExitError, res.code)
			assert.Contains(t, res.err, tc.want)
			assertUnchanged(t, cs, d)
		})
	}
}

func TestUndoWithoutEarlierRevision(t *testing.T) {
	d := deployment("shop/web:1.0", succeeded())
	cs := fake.NewClientset(d.DeepCopy(), replicaSet(d, 1, "shop/web:1.0", now))
	res := runCLI(t, cs, "undo", "web")
	assert.Equal(t, ExitError, res.code)
	assert.Contains(t, res.err, "no revision before the running revision 1 is kept")
	assertUnchanged(t, cs, d)
}

func TestHistoryListsOnlyRevisionsWithinRevisionHistory(t *testing.T) {
	d := deployment("shop/web:3.0", succeeded(), "rolloutd.io/revision-history", "2")
	res := runCLI(t, fake.NewClientset(withRevisions(d)...), "history", "web", "-o", "json")
	require.Equal(t, ExitOK, res.code, res.err)
	assert.Contains(t, res.out, `"shop/web:3.0"`)
	assert.Contains(t, res.out, `"shop/web:2.0"`)
	assert.NotContains(t, res.out, `"shop/web:1.0"`, "beyond rolloutd.io/revision-history: not offered for undo, not listed")
}

func TestHistoryShowsRecordedOutcomesOfEarlierRollouts(t *testing.T) {
	st := succeeded()
	st.Records = []contract.Record{
		{Revision: rev("shop/web:1.0"), Phase: contract.Aborted, Message: "aborted by bob: latency", At: now.Add(-72 * time.Hour)},
		{Revision: rev("shop/web:2.0"), Phase: contract.Succeeded, Message: "revision promoted", At: now.Add(-48 * time.Hour)},
		{Revision: rev("shop/web:3.0"), Phase: contract.Succeeded, Message: "revision promoted", At: now.Add(-time.Hour)},
	}
	res := runCLI(t, fake.NewClientset(withRevisions(deployment("shop/web:3.0", st))...), "history", "web", "-o", "json")
	require.Equal(t, ExitOK, res.code, res.err)
	var doc struct {
		Items []revision `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.out), &doc))
	outcomes := map[int64]string{}
	for _, r := range doc.Items {
		outcomes[r.Number] = r.Outcome
	}
	assert.Equal(t, map[int64]string{1: "aborted: aborted by bob: latency", 2: "promoted", 3: "promoted by rolloutd; running"}, outcomes)
}
