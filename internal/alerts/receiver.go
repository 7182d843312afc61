package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// Path is where the webhook is served.
const Path = "/webhooks/alertmanager"

// Defaults of Options.
const (
	DefaultMaxBody     = 1 << 20
	DefaultWorkers     = 8
	DefaultQueue       = 4096
	DefaultDedupeTTL   = time.Hour
	DefaultDedupeSize  = 10000
	DefaultMarkTimeout = 10 * time.Second
	// DefaultHandoffTimeout bounds how long an alert taken by the leader's
	// controller waits for a decision before it is marked after all.
	DefaultHandoffTimeout = 30 * time.Second
)

// Options configure a Receiver; zero values take the defaults above.
type Options struct {
	// TokenFile holds the bearer token Alertmanager sends (a mounted Secret).
	TokenFile string
	Kube      kubernetes.Interface
	// Lookup reads a Deployment from a cache (the controller's informers); a miss
	// falls back to the API server. Nil: always the API server.
	Lookup     func(namespace, name string) (*appsv1.Deployment, error)
	Registerer prometheus.Registerer
	Log        *zap.Logger
	Clock      clock.PassiveClock
	// MaxBody bounds a request body in bytes.
	MaxBody int64
	// Workers patch Deployments concurrently; Queue bounds the alerts waiting
	// for them. When the queue is full the webhook answers 503 so that
	// Alertmanager retries: a flood slows marking down but loses nothing.
	Workers     int
	Queue       int
	DedupeTTL   time.Duration
	DedupeSize  int
	MarkTimeout time.Duration
	// Handoff, if not nil, is offered each alert before its mark is written:
	// on the leading replica the controller takes it in process, and the mark
	// is written only if the controller gives it back, at the latest after
	// HandoffTimeout.
	Handoff        Handoff
	HandoffTimeout time.Duration
}

// Handoff is the controller of this replica, which may take an alert in process
// instead of waiting for the mark's write. Take does not wait: false when the
// controller does not lead (the caller marks the alert); when true, done is
// called once, later: true when a decision used the alert up (no mark needed),
// false when it must be marked after all (within passed with no decision, the
// decision keeps it for later, or the controller stopped leading).
type Handoff interface {
	Take(namespace, name string, m Mark, within time.Duration, done func(used bool)) bool
}

func (o *Options) defaults() {
	positiveOr(&o.MaxBody, DefaultMaxBody)
	positiveOr(&o.Workers, DefaultWorkers)
	positiveOr(&o.Queue, DefaultQueue)
	positiveOr(&o.DedupeTTL, DefaultDedupeTTL)
	positiveOr(&o.DedupeSize, DefaultDedupeSize)
	positiveOr(&o.MarkTimeout, DefaultMarkTimeout)
	positiveOr(&o.HandoffTimeout, DefaultHandoffTimeout)
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
}

// positiveOr sets a zero or negative setting to its default.
func positiveOr[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Receiver is the Alertmanager webhook: it validates, dedupes and queues; its
// workers mark Deployments. It answers before any API call, so Alertmanager is
// never held up by the API server.
type Receiver struct {
	o     Options
	token *tokenFile
	seen  *seenSet
	log   *zap.Logger

	mu     sync.RWMutex // guards closed against sends on the closed queue
	closed bool
	queue  chan job
	wg     sync.WaitGroup
	// taken counts the alerts the leader's controller holds (Handoff): Stop
	// waits for them after the workers, as one given back is marked then.
	taken sync.WaitGroup
	// giveBacks bounds the marks of alerts given back by the controller to
	// Workers in flight, beside the workers' own: a controller that stops
	// leading gives back every alert it holds at once.
	giveBacks chan struct{}

	requests *prometheus.CounterVec
	alerts   *prometheus.CounterVec
}

type job struct {
	target Target
	mark   Mark
	key    string
}

// New reads the token file (an error if it is unreadable or empty) and registers
// the webhook's metrics. Start the workers with Start.
func New(o Options) (*Receiver, error) {
	o.defaults()
	if o.Kube == nil {
		return nil, errors.New("alerts: no Kubernetes client")
	}
	tok, err := newTokenFile(o.TokenFile, o.Clock, o.Log)
	if err != nil {
		return nil, err
	}
	r := &Receiver{
		o: o, token: tok, log: o.Log,
		seen:      newSeenSet(o.DedupeTTL, o.DedupeSize, o.Clock),
		queue:     make(chan job, o.Queue),
		giveBacks: make(chan struct{}, o.Workers),
	}
	f := promauto.With(o.Registerer)
	r.requests = f.NewCounterVec(prometheus.CounterOpts{Name: "rolloutd_webhook_requests_total",
		Help: "Alertmanager webhook requests, by HTTP status code."}, []string{"code"})
	r.alerts = f.NewCounterVec(prometheus.CounterOpts{Name: "rolloutd_webhook_alerts_total",
		Help: "Alerts received on the webhook, by what became of them."}, []string{"result"})
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "rolloutd_webhook_queue_length",
		Help: "Alerts waiting to be marked on their Deployment."}, func() float64 { return float64(len(r.queue)) })
	return r, nil
}

// Start starts the workers that mark Deployments.
func (r *Receiver) Start() {
	for i := 0; i < r.o.Workers; i++ {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for j := range r.queue {
				r.mark(j)
			}
		}()
	}
}

// Stop refuses new alerts (503, so Alertmanager retries another replica) and
// waits until the queued ones are marked or ctx ends. Call it after the HTTP
// server has stopped.
func (r *Receiver) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.queue)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); r.taken.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("alerts: %d alerts not marked at shutdown: %w", len(r.queue), ctx.Err())
	}
}

// enqueue hands a job to the workers without waiting; false when the queue is
// full or closed.
func (r *Receiver) enqueue(j job) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return false
	}
	select {
	case r.queue <- j:
		return true
	default:
		return false
	}
}

// ServeHTTP answers Alertmanager: 200 for a well-formed payload (even one that
// names no Deployment: Alertmanager retries 5xx, and retrying would not help),
// 4xx for a request that is not one, 503 when the queue is full.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	code, msg := r.serve(w, req)
	r.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	switch code {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodPost)
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="rolloutd"`)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, msg)
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) (int, string) {
	log := r.log.With(zap.String("remote", req.RemoteAddr))
	if req.Method != http.MethodPost {
		log.Info("webhook request refused: method not allowed", zap.String("method", req.Method))
		return http.StatusMethodNotAllowed, "method not allowed: POST an Alertmanager webhook payload"
	}
	if err := r.token.check(req.Header.Get("Authorization")); err != nil {
		log.Warn("webhook request refused", zap.Error(err))
		return http.StatusUnauthorized, err.Error()
	}
	var m Message
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, r.o.MaxBody)).Decode(&m); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			log.Warn("webhook request refused: body too large", zap.Int64("limit", tooLarge.Limit))
			return http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", tooLarge.Limit)
		}
		log.Warn("webhook request refused: malformed payload", zap.Error(err))
		return http.StatusBadRequest, "malformed payload: " + err.Error()
	}
	if err := m.validate(); err != nil {
		log.Warn("webhook request refused", zap.Error(err))
		return http.StatusBadRequest, err.Error()
	}
	log = log.With(zap.String("receiver", m.Receiver), zap.String("groupKey", m.GroupKey))
	n, ok := r.accept(&m, log)
	if !ok {
		log.Warn("alert queue full; asking Alertmanager to retry", zap.Int("queued", n), zap.Int("capacity", cap(r.queue)))
		return http.StatusServiceUnavailable, "busy: retry"
	}
	log.Info("webhook payload accepted", zap.Int("alerts", len(m.Alerts)), zap.Int("queued", n))
	return http.StatusOK, fmt.Sprintf("ok: %d of %d alerts queued", n, len(m.Alerts))
}

// accept queues each new firing alert that names a Deployment and returns how many
// it queued; ok is false when the queue filled up (the alerts not queued are not
// remembered, so Alertmanager's retry brings them back).
func (r *Receiver) accept(m *Message, log *zap.Logger) (queued int, ok bool) {
	for _, a := range m.Alerts {
		mk := markOf(a)
		alog := log.With(zap.String("alertname", mk.Name), zap.String("fingerprint", mk.Fingerprint))
		if a.Status != "firing" {
			r.alerts.WithLabelValues("resolved").Inc()
			alog.Debug("alert not firing; ignored", zap.String("status", a.Status))
			continue
		}
		t, named := targetOf(a.Labels)
		if !named {
			r.alerts.WithLabelValues("unmapped").Inc()
			alog.Info("alert names no deployment (labels namespace and deployment or rolloutd_deployment); ignored",
				zap.String("labels", summary(a.Labels)))
			continue
		}
		alog = alog.With(zap.String("namespace", t.Namespace), zap.String("deployment", t.Deployment))
		j := job{target: t, mark: mk, key: dedupeKey(t, mk)}
		if !r.seen.add(j.key) {
			r.alerts.WithLabelValues("duplicate").Inc()
			alog.Debug("alert already queued or marked; ignored")
			continue
		}
		if !r.enqueue(j) {
			r.seen.forget(j.key)
			r.alerts.WithLabelValues("refused").Inc()
			return queued, false
		}
		r.alerts.WithLabelValues("queued").Inc()
		alog.Debug("alert queued for marking")
		queued++
	}
	return queued, true
}
