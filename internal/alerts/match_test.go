package alerts

import (
	"net/http"
	"testing"
	"time"

	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func TestAlertMapsToAnOptedInDeployment(t *testing.T) {
	tests := []struct {
		name   string
		deploy *appsv1.Deployment
		alert  amtemplate.Alert
		marked string // namespace/name expected to carry the mark; "" for none
	}{
		{"namespace and deployment labels", deployment("default", "web"), alert("A", "fp"), "default/web"},
		{"rolloutd_deployment label wins over deployment", deployment("shop", "api"),
			alert("A", "fp", "namespace", "shop", "deployment", "kube-state-metrics", "rolloutd_deployment", "api"), "shop/api"},
		{"rolloutd_deployment alone", deployment("shop", "api"),
			alert("A", "fp", "namespace", "shop", "deployment", "", "rolloutd_deployment", "api"), "shop/api"},
		{"selector matches", deployment("default", "web", contract.KeyAlertSelector, "severity=critical,team=web"),
			alert("A", "fp", "team", "web"), "default/web"},
		{"selector does not match", deployment("default", "web", contract.KeyAlertSelector, "severity=page"),
			alert("A", "fp"), ""},
		{"selector label missing", deployment("default", "web", contract.KeyAlertSelector, "team=web"),
			alert("A", "fp"), ""},
		{"alert rollback disabled", deployment("default", "web", contract.KeyAlertRollback, "false"), alert("A", "fp"), ""},
		{"alert rollback explicitly on", deployment("default", "web", contract.KeyAlertRollback, "true"), alert("A", "fp"), "default/web"},
		{"not opted in", deployment("default", "web", contract.KeyEnabled, "false"), alert("A", "fp"), ""},
		{"another annotation invalid still marks", deployment("default", "web", contract.KeySteps, "abc"), alert("A", "fp"), "default/web"},
		{"invalid selector", deployment("default", "web", contract.KeyAlertSelector, "no matcher"), alert("A", "fp"), ""},
		{"invalid selector mid-rollout matches as it last parsed", live(t, deployment("default", "web", contract.KeyAlertSelector, "team:web"),
			contract.KeyAlertSelector, "team=web"), alert("A", "fp", "team", "web"), "default/web"},
		{"invalid selector mid-rollout still filters as it last parsed", live(t, deployment("default", "web", contract.KeyAlertSelector, "team:web"),
			contract.KeyAlertSelector, "team=web"), alert("A", "fp", "team", "db"), ""},
		{"invalid selector mid-rollout with none kept takes the default", live(t, deployment("default", "web", contract.KeyAlertSelector, "team:web")),
			alert("A", "fp"), "default/web"},
		{"invalid alert-rollback mid-rollout takes the default", live(t, deployment("default", "web", contract.KeyAlertRollback, "ture")),
			alert("A", "fp"), "default/web"},
		{"invalid alert-rollback mid-rollout keeps an opt-out", live(t, deployment("default", "web", contract.KeyAlertRollback, "flase"),
			contract.KeyAlertRollback, "false"), alert("A", "fp"), ""},
		{"no such deployment", deployment("default", "other"), alert("A", "fp"), ""},
		{"other namespace", deployment("prod", "web"), alert("A", "fp"), ""},
		{"no namespace label", deployment("default", "web"), alert("A", "fp", "namespace", ""), ""},
		{"resolved alert ignored", deployment("default", "web"), resolved(alert("A", "fp")), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil, tt.deploy)
			require.Equal(t, http.StatusOK, f.post(testToken, payload(t, tt.alert)).Code)
			f.drain()
			if tt.marked == "" {
				assert.Empty(t, f.patches())
				return
			}
			require.Len(t, f.patches(), 1)
			assert.Equal(t, tt.marked, f.patches()[0].GetNamespace()+"/"+f.patches()[0].GetName())
		})
	}
}

// live gives d the status of a rollout under way whose annotations last parsed
// as kept (key, value pairs).
func live(t *testing.T, d *appsv1.Deployment, kept ...string) *appsv1.Deployment {
	t.Helper()
	st := contract.Status{Phase: contract.Progressing, Revision: "r2", Weight: 10, Spec: map[string]string{contract.KeyEnabled: "true"}}
	for i := 0; i+1 < len(kept); i += 2 {
		st.Spec[kept[i]] = kept[i+1]
	}
	raw, err := st.Encode()
	require.NoError(t, err)
	d.Annotations[contract.StatusKey] = raw
	return d
}

func TestResolvedAlertsAreCountedAndIgnored(t *testing.T) {
	f := newFixture(t, nil, deployment("default", "web"))
	rec := f.post(testToken, payload(t, resolved(alert("A", "fp1")), resolved(alert("B", "fp2"))))
	f.drain()
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Empty(t, f.patches())
	assert.Equal(t, 2.0, testutil.ToFloat64(f.r.alerts.WithLabelValues("resolved")))
}

func TestDuplicateAlertsMarkOnce(t *testing.T) {
	later := alert("A", "fp1")
	later.StartsAt = t0.Add(time.Hour)
	tests := []struct {
		name     string
		existing *Mark // on the Deployment before the alerts arrive
		batches  [][]amtemplate.Alert
		patches  int // successful marks
	}{
		{"same alert twice in one payload", nil, [][]amtemplate.Alert{{alert("A", "fp1"), alert("A", "fp1")}}, 1},
		{"same alert in two notifications", nil, [][]amtemplate.Alert{{alert("A", "fp1")}, {alert("A", "fp1")}}, 1},
		{"two alerts for one deployment", nil, [][]amtemplate.Alert{{alert("A", "fp1"), alert("B", "fp2")}}, 1},
		{"annotation already carries the fingerprint", &Mark{Name: "A", Fingerprint: "fp1", StartsAt: t0},
			[][]amtemplate.Alert{{alert("A", "fp1")}}, 0},
		{"a later alert is already marked", &Mark{Name: "B", Fingerprint: "fp2", StartsAt: t0.Add(time.Minute)},
			[][]amtemplate.Alert{{alert("A", "fp1")}}, 0},
		{"an older alert is replaced", &Mark{Name: "B", Fingerprint: "fp2", StartsAt: t0.Add(-time.Minute)},
			[][]amtemplate.Alert{{alert("A", "fp1")}}, 1},
		{"same fingerprint firing again", &Mark{Name: "A", Fingerprint: "fp1", StartsAt: t0},
			[][]amtemplate.Alert{{later}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deployment("default", "web")
			if tt.existing != nil {
				raw, err := tt.existing.Encode()
				require.NoError(t, err)
				d.Annotations[Key] = raw
			}
			f := newFixture(t, nil, d)
			for _, b := range tt.batches {
				require.Equal(t, http.StatusOK, f.post(testToken, payload(t, b...)).Code)
			}
			f.drain()
			assert.Equal(t, float64(tt.patches), testutil.ToFloat64(f.r.alerts.WithLabelValues(resultMarked)))
		})
	}
}

func TestMarkDecidedOnAStaleCacheIsDecidedAgain(t *testing.T) {
	fresher := deployment("default", "web")
	raw, err := Mark{Name: "B", Fingerprint: "fp2", StartsAt: t0.Add(time.Minute)}.Encode()
	require.NoError(t, err)
	fresher.Annotations[Key] = raw
	fresher.ResourceVersion = "2"
	stale := deployment("default", "web")
	conflicts := 0
	f := newFixture(t, func(o *Options) {
		o.Lookup = func(string, string) (*appsv1.Deployment, error) { return stale, nil }
	}, fresher)
	f.kube.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if string(a.(k8stesting.PatchAction).GetPatch()) != "" && conflicts == 0 {
			conflicts++
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", nil)
		}
		return false, nil, nil
	})
	require.Equal(t, http.StatusOK, f.post(testToken, payload(t, alert("A", "fp1"))).Code)
	f.drain()
	assert.Equal(t, 1, conflicts)
	assert.Len(t, f.patches(), 1, "re-read from the API server, which carries a later alert: no second patch")
	assert.Equal(t, 0.0, testutil.ToFloat64(f.r.alerts.WithLabelValues(resultMarked)))
	assert.Equal(t, "fp2", f.mark("default", "web").Fingerprint)
}

func TestFailedMarkIsForgottenSoTheNextNotificationRetries(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MarkTimeout = time.Second }, deployment("default", "web"))
	f.kube.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", nil)
	})
	require.Equal(t, http.StatusOK, f.post(testToken, payload(t, alert("A", "fp1"))).Code)
	f.drain()
	assert.Equal(t, 1.0, testutil.ToFloat64(f.r.alerts.WithLabelValues(resultFailed)))
	assert.Equal(t, 0, f.r.seen.len(), "forgotten after the failure")
}

// A Deployment the leader writes many times a second (a batch promotion moving
// its pods) conflicts with the mark's precondition again and again: the mark is
// retried until its deadline, never dropped after a few conflicts, as
// Alertmanager's next notification of the alert may be minutes away.
func TestMarkOutlastsARunOfConflicts(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MarkTimeout = 10 * time.Second }, deployment("default", "web"))
	conflicts := 0
	f.kube.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts < 8 {
			conflicts++
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", nil)
		}
		return false, nil, nil
	})
	require.Equal(t, http.StatusOK, f.post(testToken, payload(t, alert("A", "fp1"))).Code)
	f.drain()
	assert.Equal(t, 8, conflicts)
	assert.Equal(t, 1.0, testutil.ToFloat64(f.r.alerts.WithLabelValues(resultMarked)))
	assert.Equal(t, "fp1", f.mark("default", "web").Fingerprint)
}
