package alerts

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// slowAPI blocks every patch until release is closed, counting the patches that
// entered and announcing each on entered.
type slowAPI struct {
	release chan struct{}
	entered chan struct{}
	done    atomic.Int64
}

func blockPatches(f *fixture) *slowAPI {
	s := &slowAPI{release: make(chan struct{}), entered: make(chan struct{}, 10000)}
	// Block outside the fake (its reactors run under one lock): the patch call
	// waits in a client wrapper before reaching it.
	f.kube.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		s.done.Add(1)
		return false, nil, nil
	})
	f.r.o.Kube = &blockingKube{Interface: f.kube, s: s}
	return s
}

func floodAlerts(n int) []amtemplate.Alert {
	out := make([]amtemplate.Alert, n)
	for i := range out {
		out[i] = alert("HighErrorRate", fmt.Sprintf("fp%04d", i), "deployment", fmt.Sprintf("web-%04d", i))
	}
	return out
}

func TestFloodOfAlertsIsAnsweredWhileMarkingIsSlow(t *testing.T) {
	const n = 1000
	var objs []runtime.Object
	for i := 0; i < n; i++ {
		objs = append(objs, deployment("default", fmt.Sprintf("web-%04d", i)))
	}
	f := newFixture(t, nil, objs...)
	api := blockPatches(f)
	body := payload(t, floodAlerts(n)...)

	start := time.Now()
	rec := f.post(testToken, body)
	took := time.Since(start)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), "1000 of 1000 alerts queued")
	assert.Zero(t, api.done.Load(), "answered while every patch is still blocked")
	t.Logf("1000 alerts answered in %s with the API server blocked", took)

	// A retry of the same notification adds nothing.
	require.Equal(t, http.StatusOK, f.post(testToken, body).Code)

	close(api.release)
	f.drain()
	assert.Equal(t, int64(n), api.done.Load(), "nothing lost")
	assert.Equal(t, float64(n), testutil.ToFloat64(f.r.alerts.WithLabelValues(resultMarked)))
	assert.Equal(t, float64(n), testutil.ToFloat64(f.r.alerts.WithLabelValues("duplicate")))
}

func TestFullQueueAnswers503AndTheRetryIsAccepted(t *testing.T) {
	var objs []runtime.Object
	for i := 0; i < 4; i++ {
		objs = append(objs, deployment("default", fmt.Sprintf("web-%04d", i)))
	}
	f := newFixture(t, func(o *Options) { o.Workers, o.Queue = 1, 2 }, objs...)
	api := blockPatches(f)
	all := floodAlerts(4)

	require.Equal(t, http.StatusOK, f.post(testToken, payload(t, all[0])).Code)
	<-api.entered // the only worker is now stuck on the first patch

	rec := f.post(testToken, payload(t, all...))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "queue holds 2: Alertmanager must retry")
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))

	close(api.release)
	for i := 0; i < 2; i++ { // the two queued alerts reach the API server
		<-api.entered
	}
	rec = f.post(testToken, payload(t, all...))
	assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), "1 of 4 alerts queued", "the refused alert is back; the others were deduplicated")
	f.drain()
	assert.Equal(t, 4.0, testutil.ToFloat64(f.r.alerts.WithLabelValues(resultMarked)))
}

func TestStoppedReceiverRefusesWith503(t *testing.T) {
	f := newFixture(t, nil, deployment("default", "web"))
	f.drain()
	assert.Equal(t, http.StatusServiceUnavailable, f.post(testToken, payload(t, alert("A", "fp1"))).Code)
}

func TestSeenSetExpiresAndStaysBounded(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(t0)
	s := newSeenSet(time.Minute, 3, clk)
	assert.True(t, s.add("a"))
	assert.False(t, s.add("a"))
	clk.SetTime(t0.Add(time.Minute))
	assert.True(t, s.add("a"), "expired after the TTL")
	for _, k := range []string{"b", "c", "d"} {
		assert.True(t, s.add(k))
	}
	assert.Equal(t, 3, s.len())
	assert.True(t, s.add("a"), "the oldest entry made room")
	s.forget("d")
	assert.True(t, s.add("d"))
}

// BenchmarkWebhookThroughput measures the handler — auth, decode, map, dedupe and
// queue — for payloads of 1, 10 and 1000 distinct firing alerts, while the
// workers drain the queue against a fake API server on the same CPUs.
func BenchmarkWebhookThroughput(b *testing.B) {
	for _, per := range []int{1, 10, 1000} {
		b.Run(fmt.Sprintf("alerts=%d", per), func(b *testing.B) {
			f := newFixture(b, func(o *Options) { o.Queue = 1 << 16 })
			bodies := make([][]byte, 16)
			for i := range bodies {
				as := make([]amtemplate.Alert, per)
				for j := range as {
					as[j] = alert("HighErrorRate", fmt.Sprintf("fp-%d-%d", i, j), "deployment", fmt.Sprintf("web-%d", j))
				}
				bodies[i] = payload(b, as...)
			}
			var seq atomic.Int64
			var refused atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					// Payloads are replayed: empty the dedupe set so each is handled in full.
					f.r.seen.forgetAll()
					if rec := f.post(testToken, bodies[seq.Add(1)%int64(len(bodies))]); rec.Code != http.StatusOK {
						refused.Add(1)
					}
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N*per)/elapsed.Seconds(), "alerts/s")
			b.ReportMetric(float64(refused.Load()), "refused")
		})
	}
}

// A mark whose first patch outlives its deadline is a failure, not a skip: the
// alert is forgotten by the dedupe set, so Alertmanager's next notification of it
// is queued again.
func TestMarkThatTimesOutIsRetriedByTheNextNotification(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MarkTimeout = 50 * time.Millisecond }, deployment("default", "web"))
	api := blockPatches(f)
	body := payload(t, alert("HighErrorRate", "fp1"))

	require.Equal(t, http.StatusOK, f.post(testToken, body).Code)
	<-api.entered
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(f.r.alerts.WithLabelValues(resultFailed)) == 1
	}, 5*time.Second, time.Millisecond, "the timed-out mark counts as failed")
	assert.Zero(t, testutil.ToFloat64(f.r.alerts.WithLabelValues(resultSkipped)))

	rec := f.post(testToken, body)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "1 of 1 alerts queued", "the repeat notification is not a duplicate")
	close(api.release)
	f.drain()
}
