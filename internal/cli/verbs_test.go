package cli

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func withPhase(p contract.Phase) *contract.Status {
	st := paused("shop/web:2.0")
	st.Phase = p
	if p == contract.RolledBack || p == contract.Aborted {
		st.FailedRevision = st.Revision
	}
	return st
}

func TestVerbWritesCommandAnnotation(t *testing.T) {
	tests := []struct {
		name  string
		phase contract.Phase
		args  []string
		want  string
	}{
		{"promote approves a paused gate", contract.Paused, []string{"promote", "web"}, `{"verb":"promote","by":"alice"}`},
		{"promote --full skips the steps", contract.Progressing, []string{"promote", "web", "--full"}, `{"verb":"promote","full":true,"by":"alice"}`},
		{"promote --full --skip-analysis is recorded", contract.Progressing, []string{"promote", "web", "--full", "--skip-analysis"}, `{"verb":"promote","full":true,"skipAnalysis":true,"by":"alice"}`},
		{"pause holds a progressing rollout", contract.Progressing, []string{"pause", "web"}, `{"verb":"pause","by":"alice"}`},
		{"resume continues a paused rollout", contract.Paused, []string{"resume", "web"}, `{"verb":"resume","by":"alice"}`},
		{"abort records the reason", contract.Paused, []string{"abort", "web", "--reason", "p99 on the dashboard"}, `{"verb":"abort","reason":"p99 on the dashboard","by":"alice"}`},
		{"abort a progressing rollout", contract.Progressing, []string{"abort", "web"}, `{"verb":"abort","by":"alice"}`},
		{"abort a pending blue/green switch", contract.PendingConfirmation, []string{"abort", "web"}, `{"verb":"abort","by":"alice"}`},
		{"confirm a pending blue/green switch", contract.PendingConfirmation, []string{"confirm", "web"}, `{"verb":"confirm","by":"alice"}`},
		{"retry a rolled-back revision", contract.RolledBack, []string{"retry", "web"}, `{"verb":"retry","by":"alice"}`},
		{"retry an aborted revision", contract.Aborted, []string{"retry", "web"}, `{"verb":"retry","by":"alice"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset(deployment("shop/web:2.0", withPhase(tc.phase)))
			res := runCLI(t, cs, tc.args...)
			require.Equal(t, ExitOK, res.code, res.err)
			assert.Contains(t, res.out, "requested")
			assertCommandPatch(t, cs, tc.want)
		})
	}
}

// assertCommandPatch checks that exactly one merge patch was written and that it
// sets only the command annotation (and the resourceVersion precondition).
func assertCommandPatch(t *testing.T, cs *fake.Clientset, want string) {
	t.Helper()
	var patches []k8stesting.PatchAction
	for _, a := range cs.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok {
			patches = append(patches, p)
		}
	}
	require.Len(t, patches, 1)
	assert.Equal(t, types.MergePatchType, patches[0].GetPatchType())
	var doc struct {
		Metadata map[string]json.RawMessage `json:"metadata"`
	}
	require.NoError(t, json.Unmarshal(patches[0].GetPatch(), &doc))
	var ann map[string]string
	require.NoError(t, json.Unmarshal(doc.Metadata["annotations"], &ann))
	assert.Equal(t, map[string]string{contract.CommandKey: want}, ann)
	for k := range doc.Metadata {
		assert.Contains(t, []string{"annotations", "resourceVersion"}, k)
	}
	d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, want, d.Annotations[contract.CommandKey])
}

func TestVerbRefusedLeavesDeploymentUnchanged(t *testing.T) {
	pending := `{"verb":"pause","by":"bob"}`
	notEnabled := deployment("shop/web:2.0", withPhase(contract.Paused))
	notEnabled.Annotations["rolloutd.io/enabled"] = "false"
	retryNewTemplate := deployment("shop/web:3.0", withPhase(contract.RolledBack))
	tests := []struct {
		name string
		d    *appsv1.Deployment
		args []string
		want string
	}{
		{"unknown deployment", nil, []string{"promote", "web"}, "deployment shop/web not found"},
		{"not opted in", notEnabled, []string{"promote", "web"}, "not managed by rolloutd"},
		{"promote when idle", deployment("shop/web:2.0", withPhase(contract.Idle)), []string{"promote", "web"}, "cannot promote web: phase is Idle"},
		{"promote during a rollback", deployment("shop/web:2.0", withPhase(contract.RollingBack)), []string{"promote", "web"}, "phase is RollingBack"},
		{"pause when already paused", deployment("shop/web:2.0", withPhase(contract.Paused)), []string{"pause", "web"}, "already paused"},
		{"resume when progressing", deployment("shop/web:2.0", withPhase(contract.Progressing)), []string{"resume", "web"}, "cannot resume web"},
		{"abort without a rollout", deployment("shop/web:2.0", withPhase(contract.Succeeded)), []string{"abort", "web"}, "no rollout in progress"},
		{"abort while promoting", deployment("shop/web:2.0", withPhase(contract.Promoting)), []string{"abort", "web"}, "already promoting"},
		{"confirm when not pending", deployment("shop/web:2.0", withPhase(contract.Paused)), []string{"confirm", "web"}, "cannot confirm web: phase is Paused"},
		{"retry without a rollback", deployment("shop/web:2.0", withPhase(contract.Succeeded)), []string{"retry", "web"}, "no rolled-back revision"},
		{"retry after the template changed", retryNewTemplate, []string{"retry", "web"}, "no longer the rolled-back revision"},
		{"no status yet", deployment("shop/web:2.0", nil), []string{"pause", "web"}, "rolloutd has not recorded a status yet"},
		{"another verb pending", deployment("shop/web:2.0", withPhase(contract.Paused), contract.CommandKey, pending), []string{"promote", "web"}, "pending command (pause by bob)"},
		{"undo to the same revision pending", deployment("shop/web:2.0", withPhase(contract.Paused), contract.CommandKey, `{"verb":"undo","revision":2}`), []string{"abort", "web"}, "pending command (undo to revision 2)"},
		{"missing name", deployment("shop/web:2.0", withPhase(contract.Paused)), []string{"promote"}, "accepts 1 arg(s), received 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			if tc.d != nil {
				objs = append(objs, tc.d.DeepCopy())
			}
			cs := fake.NewClientset(objs...)
			res := runCLI(t, cs, tc.args...)
			assert.Equal(t, ExitError, res.code)
			assert.Contains(t, res.err, tc.want)
			assert.Regexp(t, `^rolloutctl: [^\n]+\n$`, res.err, "one line prefixed rolloutctl:")
			assertUnchanged(t, cs, tc.d)
		})
	}
}

// assertUnchanged checks that nothing was written and the object is as created.
func assertUnchanged(t *testing.T, cs *fake.Clientset, before *appsv1.Deployment) {
	t.Helper()
	for _, a := range cs.Actions() {
		assert.Contains(t, []string{"get", "list", "watch"}, a.GetVerb(), "unexpected write %v", a)
	}
	if before == nil {
		return
	}
	d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, before.Annotations, d.Annotations)
}

func TestSameVerbPendingIsNotRewritten(t *testing.T) {
	d := deployment("shop/web:2.0", withPhase(contract.Paused), contract.CommandKey, `{"verb":"promote","by":"bob"}`)
	cs := fake.NewClientset(d.DeepCopy())
	res := runCLI(t, cs, "promote", "web")
	assert.Equal(t, ExitOK, res.code, res.err)
	assert.Contains(t, res.out, "promote already requested")
	assertUnchanged(t, cs, d)
}

func TestMalformedPendingCommandIsReplaced(t *testing.T) {
	cs := fake.NewClientset(deployment("shop/web:2.0", withPhase(contract.Paused), contract.CommandKey, `not json`))
	res := runCLI(t, cs, "resume", "web")
	require.Equal(t, ExitOK, res.code, res.err)
	assertCommandPatch(t, cs, `{"verb":"resume","by":"alice"}`)
}

func TestPatchCarriesResourceVersionPrecondition(t *testing.T) {
	d := deployment("shop/web:2.0", withPhase(contract.Paused))
	d.ResourceVersion = "42"
	p, err := commandPatch(d.ResourceVersion, contract.Command{Verb: contract.Promote, By: "alice"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"metadata":{"resourceVersion":"42","annotations":{"rolloutd.io/command":"{\"verb\":\"promote\",\"by\":\"alice\"}"}}}`, string(p))
}

func TestSkipAnalysisNeedsFull(t *testing.T) {
	cs := fake.NewClientset(deployment("shop/web:2.0", withPhase(contract.Progressing)))
	res := runCLI(t, cs, "promote", "web", "--skip-analysis")
	assert.Equal(t, ExitError, res.code)
	assert.Contains(t, res.err, "--skip-analysis goes with --full")
	for _, a := range cs.Actions() {
		_, patched := a.(k8stesting.PatchAction)
		assert.False(t, patched, "nothing is written")
	}
}
