package alerts

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// fakeHandoff is a controller that takes (or gives back) every alert offered.
type fakeHandoff struct {
	leading, use bool
	mu           sync.Mutex
	got          []string // namespace/name of each alert offered
}

// Take takes the alert when leading, and settles it later (in a goroutine of
// its own, as the controller does) as use says.
func (h *fakeHandoff) Take(namespace, name string, m Mark, within time.Duration, done func(used bool)) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, namespace+"/"+name+" "+m.Name)
	if !h.leading {
		return false
	}
	go done(h.use)
	return true
}

func (h *fakeHandoff) offered() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

// withHandoff gives the receiver h as its controller and the fake API as its cache.
func withHandoff(f **fixture, h *fakeHandoff) func(*Options) {
	return func(o *Options) {
		o.Handoff = h
		o.Lookup = func(ns, name string) (*appsv1.Deployment, error) {
			return (*f).kube.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		}
	}
}

func TestAlertTakenInProcessIsNotMarked(t *testing.T) {
	h := &fakeHandoff{leading: true, use: true}
	var f *fixture
	canary := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-canary",
		Labels: map[string]string{contract.CanaryOfLabel: "web"}, ResourceVersion: "1"}}
	f = newFixture(t, withHandoff(&f, h), deployment("default", "web"), canary)

	require.Equal(t, http.StatusOK, f.post(testToken, payload(t, alert("CanaryErrors", "fp1", "deployment", "web-canary"))).Code)
	f.drain()

	assert.Equal(t, []string{"default/web CanaryErrors"}, h.offered(), "offered for the canary's owner")
	assert.Empty(t, f.patches(), "the controller's decision used it up: no mark")
	assert.Nil(t, f.mark("default", "web"))
	assert.Equal(t, 1.0, testutil.ToFloat64(f.r.alerts.WithLabelValues(resultTaken)))
	assert.Zero(t, testutil.ToFloat64(f.r.alerts.WithLabelValues(resultMarked)))
}

func TestAlertNotActedOnInProcessIsMarked(t *testing.T) {
	for name, h := range map[string]*fakeHandoff{
		"the controller does not lead":        {leading: false},
		"the controller gives the alert back": {leading: true, use: false},
	} {
		t.Run(name, func(t *testing.T) {
			var f *fixture
			f = newFixture(t, withHandoff(&f, h), deployment("default", "web"))

			require.Equal(t, http.StatusOK, f.post(testToken, payload(t, alert("HighErrorRate", "fp1"))).Code)
			f.drain()

			assert.Equal(t, []string{"default/web HighErrorRate"}, h.offered())
			m := f.mark("default", "web")
			require.NotNil(t, m, "the mark carries it to the leader")
			assert.Equal(t, "HighErrorRate", m.Name)
			assert.Equal(t, 1.0, testutil.ToFloat64(f.r.alerts.WithLabelValues(resultMarked)))
		})
	}
}

func TestIneligibleAlertIsNotOffered(t *testing.T) {
	h := &fakeHandoff{leading: true, use: true}
	var f *fixture
	off := deployment("default", "web", contract.KeyAlertRollback, "false")
	f = newFixture(t, withHandoff(&f, h), off)

	require.Equal(t, http.StatusOK, f.post(testToken, payload(t, alert("HighErrorRate", "fp1"))).Code)
	f.drain()

	assert.Empty(t, h.offered(), "alert rollback is off for it")
	assert.Empty(t, f.patches())
	assert.Equal(t, 1.0, testutil.ToFloat64(f.r.alerts.WithLabelValues(resultSkipped)))
}

// Alerts given back by the controller (it stopped leading, say, with a burst in
// hand) are marked at most Workers at a time, as queued ones are: a give-back
// that finds every turn taken until its mark's deadline counts as failed and is
// forgotten, so Alertmanager's next notification brings it again.
func TestGivenBackAlertsAreMarkedAtMostWorkersAtATime(t *testing.T) {
	h := &fakeHandoff{leading: true, use: false}
	var f *fixture
	f = newFixture(t, func(o *Options) {
		withHandoff(&f, h)(o)
		o.Workers, o.MarkTimeout = 2, 50*time.Millisecond
	}, deployment("default", "web"))
	require.Equal(t, 2, cap(f.r.giveBacks))
	for range cap(f.r.giveBacks) {
		f.r.giveBacks <- struct{}{} // every turn taken by give-backs in flight
	}

	require.Equal(t, http.StatusOK, f.post(testToken, payload(t, alert("HighErrorRate", "fp1"))).Code)
	require.Eventually(t, func() bool { return testutil.ToFloat64(f.r.alerts.WithLabelValues(resultFailed)) == 1 },
		5*time.Second, 5*time.Millisecond, "the give-back found no turn before its deadline")
	assert.Empty(t, f.patches(), "no mark written")

	<-f.r.giveBacks // a turn frees up: the next notification is marked
	require.Equal(t, http.StatusOK, f.post(testToken, payload(t, alert("HighErrorRate", "fp1"))).Code)
	f.drain()
	require.NotNil(t, f.mark("default", "web"))
	assert.Equal(t, 1.0, testutil.ToFloat64(f.r.alerts.WithLabelValues(resultMarked)))
}
