package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// receiver is a local webhook endpoint answering with the codes in order (the last
// one repeats), or hanging until the request is cancelled when hang is set.
type receiver struct {
	codes []int
	hang  bool
	mu    sync.Mutex
	hits  int
	body  []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	i := min(rc.hits, len(rc.codes)-1)
	rc.hits++
	rc.body = append(rc.body, string(b))
	rc.mu.Unlock()
	if rc.hang {
		<-r.Context().Done()
		return
	}
	w.WriteHeader(rc.codes[i])
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.hits
}

// urlFile writes url to a file in a temp dir, as a mounted Secret would hold it.
func urlFile(t *testing.T, url string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "url")
	require.NoError(t, os.WriteFile(p, []byte(url+"\n"), 0o600))
	return p
}

type fixture struct {
	n    *Notifier
	reg  *prometheus.Registry
	logs *observer.ObservedLogs
}

func start(t *testing.T, o Options) fixture {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	reg := prometheus.NewRegistry()
	o.Registerer, o.Log = reg, zap.New(core)
	n, err := New(o)
	require.NoError(t, err)
	n.Start()
	t.Cleanup(func() { _ = n.Stop(context.Background()) })
	return fixture{n: n, reg: reg, logs: logs}
}

func (f fixture) counted(channel, result string) float64 {
	return testutil.ToFloat64(f.n.sent.WithLabelValues(channel, result))
}

func (f fixture) waitCounted(t *testing.T, channel, result string) {
	t.Helper()
	require.Eventually(t, func() bool { return f.counted(channel, result) == 1 }, 10*time.Second, 5*time.Millisecond,
		"%s %s never counted", channel, result)
}

func TestReceiverThatFailsThenRecoversGetsTheNotification(t *testing.T) {
	rc := &receiver{codes: []int{503, 500, 200}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	f := start(t, Options{Sinks: []Sink{{Name: Webhook, URLFile: urlFile(t, srv.URL+"/hook/s3cr3t")}},
		Backoff: time.Millisecond, Attempts: 5, Timeout: time.Second})

	f.n.Notify(promoted())

	f.waitCounted(t, Webhook, "sent")
	assert.Equal(t, 3, rc.count(), "two failures, then success")
	assert.Zero(t, f.counted(Webhook, "failed"))
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(rc.body[2]), &got))
	assert.Equal(t, "web", got["deployment"])
}

func TestReceiverThatHangsTimesOutEveryAttemptAndIsCountedFailed(t *testing.T) {
	rc := &receiver{codes: []int{200}, hang: true}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	f := start(t, Options{Sinks: []Sink{{Name: Slack, URLFile: urlFile(t, srv.URL+"/services/T0/B0/s3cr3t")}},
		Backoff: time.Millisecond, Attempts: 3, Timeout: 50 * time.Millisecond})

	f.n.Notify(rolledBack())

	f.waitCounted(t, Slack, "failed")
	assert.Equal(t, 3, rc.count(), "each attempt timed out and was retried")
	warn := f.logs.FilterMessage("notification not sent").All()
	require.Len(t, warn, 1)
	assert.Contains(t, warn[0].ContextMap()["error"], "timed out")
}

func TestClientErrorIsNotRetried(t *testing.T) {
	rc := &receiver{codes: []int{404}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	f := start(t, Options{Sinks: []Sink{{Name: Teams, URLFile: urlFile(t, srv.URL)}}, Backoff: time.Millisecond})

	f.n.Notify(promoted())

	f.waitCounted(t, Teams, "failed")
	assert.Equal(t, 1, rc.count())
}

func TestWebhookURLNeverAppearsInLogs(t *testing.T) {
	srv := httptest.NewServer(&receiver{codes: []int{500}})
	srv.Close() // connection refused on every attempt
	f := start(t, Options{Sinks: []Sink{{Name: Webhook, URLFile: urlFile(t, srv.URL+"/hook/s3cr3t-token")}},
		Backoff: time.Millisecond, Attempts: 2})

	f.n.Notify(promoted())

	f.waitCounted(t, Webhook, "failed")
	for _, e := range f.logs.All() {
		line, _ := json.Marshal(e.ContextMap())
		assert.NotContains(t, e.Message+string(line), "s3cr3t-token")
	}
}

func TestFullQueueDropsAndCountsWithoutBlocking(t *testing.T) {
	reg := prometheus.NewRegistry()
	n, err := New(Options{Sinks: []Sink{{Name: Webhook, URLFile: urlFile(t, "http://127.0.0.1:1/x")}}, QueueSize: 2, Registerer: reg})
	require.NoError(t, err)
	// Not started: nothing drains the queue.
	for range 5 {
		n.Notify(promoted())
	}
	assert.Equal(t, 3.0, testutil.ToFloat64(n.sent.WithLabelValues(Webhook, "dropped")))
	assert.Equal(t, 2, len(n.queue))
}

func TestChannelsFollowTheDeploymentsChoice(t *testing.T) {
	sinks := []Sink{{Name: Slack, URLFile: urlFile(t, "http://127.0.0.1:1/a")}, {Name: Webhook, URLFile: urlFile(t, "http://127.0.0.1:1/b")}}
	cases := []struct {
		name     string
		channels []string
		want     []string
	}{
		{"unset: every configured channel", nil, []string{Slack, Webhook}},
		{"one chosen", []string{Webhook}, []string{Webhook}},
		{"unconfigured channel ignored", []string{Teams, Slack}, []string{Slack}},
		{"none", []string{}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := New(Options{Sinks: sinks, QueueSize: 10})
			require.NoError(t, err)
			e := promoted()
			e.Channels = c.channels
			n.Notify(e)
			var got []string
			for len(n.queue) > 0 {
				got = append(got, (<-n.queue).sink.Name)
			}
			assert.Equal(t, c.want, got)
		})
	}
}

func TestNewRejectsAMissingOrMalformedURLFile(t *testing.T) {
	_, err := New(Options{Sinks: []Sink{{Name: Slack, URLFile: filepath.Join(t.TempDir(), "absent")}}})
	require.Error(t, err)
	bad := urlFile(t, "hooks.slack.com/services/s3cr3t")
	_, err = New(Options{Sinks: []Sink{{Name: Slack, URLFile: bad}}})
	require.Error(t, err)
	assert.False(t, strings.Contains(err.Error(), "s3cr3t"), "the error must not quote the URL: %v", err)
}

func TestStopSendsWhatIsQueuedFirst(t *testing.T) {
	rc := &receiver{codes: []int{200}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n, err := New(Options{Sinks: []Sink{{Name: Webhook, URLFile: urlFile(t, srv.URL)}}, QueueSize: 10})
	require.NoError(t, err)
	for range 3 {
		n.Notify(promoted())
	}
	n.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, n.Stop(ctx))
	assert.Equal(t, 3, rc.count())
}

func TestStopGivesUpOnAHangingReceiverAtItsDeadline(t *testing.T) {
	rc := &receiver{codes: []int{200}, hang: true}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	n, err := New(Options{Sinks: []Sink{{Name: Webhook, URLFile: urlFile(t, srv.URL)}}, QueueSize: 10, Timeout: time.Minute})
	require.NoError(t, err)
	n.Notify(promoted())
	n.Notify(promoted())
	n.Start()
	// The first notification must be in flight (hanging) before Stop, or both
	// would still be queued when the deadline passes.
	require.Eventually(t, func() bool { return rc.count() == 1 }, 10*time.Second, 5*time.Millisecond, "the first notification reaches the receiver")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = n.Stop(ctx)
	require.Error(t, err, "the second notification was never sent")
	assert.Contains(t, err.Error(), "1 notifications not sent")
}

func TestNilNotifierIgnoresEvents(t *testing.T) {
	var n *Notifier
	assert.NotPanics(t, func() { n.Notify(promoted()) })
}
