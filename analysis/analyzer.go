package analysis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"go.uber.org/zap"
)

// Evaluator is the seam the daemon depends on, so that it can be tested without
// Prometheus. *Analyzer implements it.
type Evaluator interface {
	// Evaluate runs every check for one gate and returns one CheckResult per
	// check, in order, and the combined verdict. It never returns an error: a
	// check that could not be judged is Fail (or Inconclusive for too little
	// traffic) with the reason.
	Evaluate(ctx context.Context, t Target, checks []contract.Check) Result
}

// Defaults for zero Options fields.
const (
	DefaultQueryTimeout  = 10 * time.Second
	DefaultMaxConcurrent = 16
	DefaultMinRequests   = 20
	DefaultRetryBackoff  = 250 * time.Millisecond
	DefaultMaxAttempts   = 3
)

// Options configure an Analyzer. Zero values take the defaults above.
type Options struct {
	// QueryTimeout bounds one attempt of one query.
	QueryTimeout time.Duration
	// MaxConcurrent bounds the queries in flight across every rollout.
	MaxConcurrent int
	// Logger receives debug details; nil means no logging.
	Logger *zap.Logger
	// Registerer, if not nil, receives the analyzer's metrics.
	Registerer prometheus.Registerer
	// MinRequests: below this many canary requests in the window a request
	// check (error rate, latency) is Inconclusive. Negative means no minimum.
	MinRequests float64
	// RetryBackoff is the wait before the first retry of a failed query; it
	// doubles for each further retry.
	RetryBackoff time.Duration
	// MaxAttempts bounds the attempts of one query, the first included.
	MaxAttempts int
	// Judge, if not nil, lets the statistical judge decide baseline forms.
	Judge *JudgeOptions
	// StatusLabels override DefaultStatusLabels per source.
	StatusLabels map[contract.Source]string
}

// Analyzer evaluates gates against Prometheus. Safe for concurrent use by many
// workers; all of them share one bound on queries in flight.
type Analyzer struct {
	prom        *prom
	minRequests float64
	judge       *JudgeOptions
	statusLabel map[contract.Source]string
	metrics     *metrics
	log         *zap.Logger
}

var _ Evaluator = (*Analyzer)(nil)

// NewAnalyzer returns an Analyzer querying api. It registers its metrics on
// opts.Registerer, which panics if they are already registered there.
func NewAnalyzer(api promv1.API, opts Options) *Analyzer {
	opts = opts.withDefaults()
	m := newMetrics(opts.Registerer)
	var judge *JudgeOptions
	if opts.Judge != nil {
		j := opts.Judge.withDefaults()
		judge = &j
	}
	return &Analyzer{
		judge: judge,
		prom: &prom{
			api:      api,
			sem:      make(chan struct{}, opts.MaxConcurrent),
			timeout:  opts.QueryTimeout,
			backoff:  opts.RetryBackoff,
			attempts: opts.MaxAttempts,
			metrics:  m,
			log:      opts.Logger,
		},
		minRequests: opts.MinRequests,
		statusLabel: opts.StatusLabels,
		metrics:     m,
		log:         opts.Logger,
	}
}

func (o Options) withDefaults() Options {
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.MinRequests == 0 {
		o.MinRequests = DefaultMinRequests
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = DefaultRetryBackoff
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

// Evaluate runs every check for one gate. It never returns Pass for a check whose
// query erred, timed out, returned no series, or NaN/Inf: that check is Fail with
// the reason. The alerts check is the one exception to "no series fails": there an
// empty result means no alert is firing, which passes. A zero t.End means now.
func (a *Analyzer) Evaluate(ctx context.Context, t Target, checks []contract.Check) Result {
	start := time.Now()
	results := make([]contract.CheckResult, len(checks))
	if t.StatusLabel == "" {
		t.StatusLabel = a.statusLabel[t.Source]
	}
	if err := t.Validate(); err != nil {
		for i, c := range checks {
			results[i] = failed(c, fmt.Sprintf("invalid target: %v", err))
		}
	} else {
		a.evaluate(ctx, t, checks, results)
	}
	r := Combine(results)
	a.metrics.observeResult(checks, r, time.Since(start))
	a.log.Debug("gate evaluated",
		zap.String("namespace", t.Namespace), zap.String("deployment", t.Deployment),
		zap.String("verdict", string(r.Verdict)), zap.Duration("took", time.Since(start)))
	return r
}

// evaluate plans every check, starts all their queries at once, then judges.
func (a *Analyzer) evaluate(ctx context.Context, t Target, checks []contract.Check, out []contract.CheckResult) {
	end := t.End
	if end.IsZero() {
		end = time.Now()
	}
	ev := newEvaluation(a.prom, end)
	plans := make([]plan, len(checks))
	errs := make([]error, len(checks))
	for i, c := range checks {
		plans[i], errs[i] = newPlan(t, c)
		for _, q := range plans[i].queries() {
			ev.start(ctx, q)
		}
		if errs[i] == nil && a.judges(c) {
			ev.rng.Start, ev.rng.Step = a.sampleRange(t, end)
			ev.rng.End = end
			plans[i].samples, errs[i] = a.samplePlan(t, c)
		}
	}
	for _, p := range plans {
		if p.samples != nil {
			for _, q := range p.samples.queries() {
				ev.startRange(ctx, q)
			}
		}
	}
	for i, p := range plans {
		if errs[i] != nil {
			out[i] = failed(checks[i], errs[i].Error())
			continue
		}
		out[i] = a.decide(ctx, ev, p)
	}
}

// Validate reports a target that cannot be queried: every query would select
// nothing or the wrong pods.
func (t Target) Validate() error {
	var missing []string
	need := func(field, v string) {
		if v == "" {
			missing = append(missing, field+" is empty")
		}
	}
	need("namespace", t.Namespace)
	need("deployment", t.Deployment)
	need("canary", t.Canary)
	switch t.Source {
	case contract.SourceNginx:
		need("ingress", t.Ingress)
	case contract.SourceIstio, contract.SourceService:
	default:
		missing = append(missing, fmt.Sprintf("unknown source %q (want nginx, istio or service)", t.Source))
	}
	if t.Window <= 0 {
		missing = append(missing, "window must be positive")
	}
	if len(missing) > 0 {
		return errors.New(strings.Join(missing, "; "))
	}
	return nil
}

// failed is a Fail result for c with reason.
func failed(c contract.Check, reason string) contract.CheckResult {
	return contract.CheckResult{Name: c.Name(), Verdict: contract.Fail, Reason: reason}
}
