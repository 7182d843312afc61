package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"
)

// Sink is one configured channel: its name and the file holding its webhook URL.
type Sink struct {
	Name    string
	URLFile string
}

// Options configure a Notifier. Zero values take the defaults in brackets.
type Options struct {
	Sinks []Sink
	// QueueSize bounds the notifications waiting to be sent [256].
	QueueSize int
	// Timeout bounds one HTTP request [5s].
	Timeout time.Duration
	// Attempts is how many times a request is tried [5].
	Attempts int
	// Backoff is the wait before the first retry, doubled each time up to
	// MaxBackoff [1s, 30s].
	Backoff, MaxBackoff time.Duration
	Registerer          prometheus.Registerer
	Log                 *zap.Logger
}

func (o *Options) defaults() {
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = max(30*time.Second, o.Backoff)
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
}

// job is one notification for one channel.
type job struct {
	sink  Sink
	event Event
}

// Notifier queues notifications and sends them from one worker.
type Notifier struct {
	o      Options
	queue  chan job
	sender *sender
	sent   *prometheus.CounterVec
	stop   context.CancelFunc
	ctx    context.Context
	wg     sync.WaitGroup
	// draining is closed by Stop: the worker sends what is queued, then exits.
	draining chan struct{}
	stopOnce sync.Once
}

// New checks that every sink's URL file is readable and names a known channel,
// and registers the notification metrics. Start begins sending.
func New(o Options) (*Notifier, error) {
	o.defaults()
	for _, s := range o.Sinks {
		if _, ok := renderers[s.Name]; !ok {
			return nil, fmt.Errorf("notify: unknown channel %q", s.Name)
		}
		if _, err := readURL(s.URLFile); err != nil {
			return nil, fmt.Errorf("notify: %s: %w", s.Name, err)
		}
	}
	n := &Notifier{o: o, queue: make(chan job, o.QueueSize), draining: make(chan struct{})}
	f := promauto.With(o.Registerer)
	n.sent = f.NewCounterVec(prometheus.CounterOpts{Name: "rolloutd_notifications_total",
		Help: "Notifications by channel and result: sent, failed (after every retry) or dropped (queue full)."},
		[]string{"channel", "result"})
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "rolloutd_notification_queue_length",
		Help: "Notifications waiting to be sent."}, func() float64 { return float64(len(n.queue)) })
	n.sender = &sender{timeout: o.Timeout, attempts: o.Attempts, backoff: o.Backoff, maxBackoff: o.MaxBackoff,
		duration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "rolloutd_notification_request_duration_seconds",
			Help:    "Time of one notification request attempt, by channel.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"channel"})}
	n.ctx, n.stop = context.WithCancel(context.Background())
	return n, nil
}

// Channels names the configured channels.
func (n *Notifier) Channels() []string {
	var out []string
	for _, s := range n.o.Sinks {
		out = append(out, s.Name)
	}
	return out
}

// Notify queues e for every configured channel it selects. It never blocks: when
// the queue is full the notification is dropped and counted.
func (n *Notifier) Notify(e Event) {
	if n == nil {
		return
	}
	for _, s := range n.o.Sinks {
		if e.Channels != nil && !slices.Contains(e.Channels, s.Name) {
			continue
		}
		select {
		case n.queue <- job{sink: s, event: e}:
		default:
			n.sent.WithLabelValues(s.Name, "dropped").Inc()
			n.o.Log.Warn("notification dropped: queue full", fields(s, e)...)
		}
	}
}

// Start runs the worker until Stop.
func (n *Notifier) Start() {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		// Checked before each select: once Stop gives up, a ready queue must not win
		// the select's random choice, or a job would be taken only to fail and no
		// longer be counted as not sent.
		for n.ctx.Err() == nil {
			select {
			case <-n.ctx.Done():
				return
			case j := <-n.queue:
				n.deliver(j)
			case <-n.draining:
				n.drain()
				return
			}
		}
	}()
}

// drain sends what is queued, until the queue is empty or Stop gives up.
func (n *Notifier) drain() {
	for n.ctx.Err() == nil {
		select {
		case j := <-n.queue:
			n.deliver(j)
		default:
			return
		}
	}
}

// Stop lets the worker send what is queued until ctx ends, then abandons the rest
// (retries in flight included) and reports how many were not sent.
func (n *Notifier) Stop(ctx context.Context) error {
	n.stopOnce.Do(func() { close(n.draining) })
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		n.stop()
		<-done
	}
	n.stop()
	if left := len(n.queue); left > 0 {
		return fmt.Errorf("notify: %d notifications not sent at shutdown", left)
	}
	return nil
}

func (n *Notifier) deliver(j job) {
	log := n.o.Log.With(fields(j.sink, j.event)...)
	body, err := renderers[j.sink.Name](j.event)
	if err == nil {
		err = n.sender.send(n.ctx, j.sink, body)
	}
	if err != nil {
		n.sent.WithLabelValues(j.sink.Name, "failed").Inc()
		log.Warn("notification not sent", zap.Error(err))
		return
	}
	n.sent.WithLabelValues(j.sink.Name, "sent").Inc()
	log.Debug("notification sent")
}

func fields(s Sink, e Event) []zap.Field {
	return []zap.Field{zap.String("channel", s.Name), zap.String("kind", string(e.Kind)),
		zap.String("namespace", e.Namespace), zap.String("deployment", e.Deployment),
		zap.String("revision", e.Revision), zap.String("phase", e.Phase)}
}

// readURL reads a webhook URL from a file.
func readURL(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return "", fmt.Errorf("read URL file %s: %w", path, pe.Err)
		}
		return "", fmt.Errorf("read URL file %s: %w", path, err)
	}
	u := strings.TrimSpace(string(b))
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return "", fmt.Errorf("URL file %s: want an http(s) URL", path)
	}
	return u, nil
}
