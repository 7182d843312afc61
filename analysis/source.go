package analysis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"
)

// prom sends queries to Prometheus: at most cap(sem) at once across every caller,
// each attempt bounded by timeout, failed attempts retried with backoff while the
// caller's context leaves time.
type prom struct {
	api      promv1.API
	sem      chan struct{}
	timeout  time.Duration
	backoff  time.Duration
	attempts int
	metrics  *metrics
	log      *zap.Logger
}

// instant runs an instant query at ts (now if zero) and returns its samples. A
// scalar result becomes one unlabelled sample.
func (p *prom) instant(ctx context.Context, query string, ts time.Time) (model.Vector, error) {
	return ask(ctx, p, "instant", query, func(ctx context.Context) (model.Value, promv1.Warnings, error) {
		return p.api.Query(ctx, query, ts)
	}, asVector)
}

// rangeQuery runs a range query and returns its series.
func (p *prom) rangeQuery(ctx context.Context, query string, r promv1.Range) (model.Matrix, error) {
	return ask(ctx, p, "range", query, func(ctx context.Context) (model.Value, promv1.Warnings, error) {
		return p.api.QueryRange(ctx, query, r)
	}, asMatrix)
}

// ask sends query through p's retries: send asks Prometheus once, as turns its
// answer into T (an answer of another shape is a shapeError, not retried). An
// answer with warnings is a warningsError and retried.
func ask[T any](ctx context.Context, p *prom, kind, query string, send func(context.Context) (model.Value, promv1.Warnings, error),
	as func(model.Value) (T, error)) (T, error) {
	var out T
	err := p.retry(ctx, kind, func(ctx context.Context) error {
		v, warnings, err := send(ctx)
		if err != nil {
			return err
		}
		if len(warnings) > 0 {
			p.log.Debug("prometheus warnings", zap.String("query", query), zap.Strings("warnings", warnings))
			return &warningsError{warnings: warnings}
		}
		out, err = as(v)
		return err
	})
	return out, err
}

// retry runs one attempt after another until one succeeds, the error is not
// worth retrying, attempts run out, or ctx has no time left for another try.
func (p *prom) retry(ctx context.Context, kind string, attempt func(context.Context) error) error {
	delay := p.backoff
	for n := 1; ; n++ {
		err := p.once(ctx, kind, attempt)
		if err == nil {
			return nil
		}
		if n >= p.attempts || !retryable(err) || !hasTime(ctx, delay+p.timeout/4) {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay *= 2
	}
}

// once runs one attempt under the shared semaphore and the per-query timeout.
func (p *prom) once(ctx context.Context, kind string, attempt func(context.Context) error) error {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for a query slot: %w", ctx.Err())
	}
	defer func() { <-p.sem }()
	qctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	start := time.Now()
	err := attempt(qctx)
	p.metrics.observeQuery(kind, time.Since(start), err)
	if err != nil && qctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		err = fmt.Errorf("timed out after %s: %w", p.timeout, err)
	}
	return err
}

// hasTime reports whether ctx is live and its deadline, if any, is at least d away.
func hasTime(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > d
}

// retryable is false for errors a second attempt cannot fix: a query Prometheus
// rejected as bad, a 4xx, or a result of the wrong shape.
func retryable(err error) bool {
	var apiErr *promv1.Error
	if errors.As(err, &apiErr) {
		switch apiErr.Type {
		case promv1.ErrBadData, promv1.ErrClient, promv1.ErrBadResponse:
			return false
		}
	}
	var shape *shapeError
	return !errors.As(err, &shape)
}

// shapeError is a successful response of an unusable type (e.g. a string).
type shapeError struct{ typ model.ValueType }

func (e *shapeError) Error() string {
	return fmt.Sprintf("unexpected result type %s", e.typ)
}

// warningsError is an answer Prometheus (or a long-term store in front of it)
// gave with warnings, e.g. a partial response when a store was unreachable: its
// numbers may miss series (the 5xx ones, say), so it is never judged. It is
// retried, as the store may answer fully next time.
type warningsError struct{ warnings []string }

func (e *warningsError) Error() string {
	return "partial or unreliable answer, Prometheus warned: " + strings.Join(e.warnings, "; ")
}

// asVector turns an instant query's value into a vector.
func asVector(v model.Value) (model.Vector, error) {
	switch v := v.(type) {
	case model.Vector:
		return v, nil
	case *model.Scalar:
		return model.Vector{{Metric: model.Metric{}, Value: v.Value, Timestamp: v.Timestamp}}, nil
	case nil:
		return nil, &shapeError{typ: model.ValNone}
	}
	return nil, &shapeError{typ: v.Type()}
}

// asMatrix takes a range query's value as a matrix.
func asMatrix(v model.Value) (model.Matrix, error) {
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, &shapeError{typ: valueType(v)}
	}
	return m, nil
}

func valueType(v model.Value) model.ValueType {
	if v == nil {
		return model.ValNone
	}
	return v.Type()
}

// evaluation caches the queries of one Evaluate call: each distinct query is sent
// once, however many checks need it, and runs concurrently with the rest. Instant
// queries run at ts; range queries (the judge's samples) over rng.
type evaluation struct {
	p   *prom
	ts  time.Time
	rng promv1.Range
	mu  sync.Mutex
	run map[string]*queryCall
}

// queryCall is one query in flight or done; done is closed when the result is set.
type queryCall struct {
	done chan struct{}
	v    model.Vector
	m    model.Matrix
	err  error
}

func newEvaluation(p *prom, ts time.Time) *evaluation {
	return &evaluation{p: p, ts: ts, run: map[string]*queryCall{}}
}

// begin starts run under key unless the key was already started.
func (e *evaluation) begin(key string, run func(*queryCall)) *queryCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.run[key]; ok {
		return c
	}
	c := &queryCall{done: make(chan struct{})}
	e.run[key] = c
	go func() {
		defer close(c.done)
		run(c)
	}()
	return c
}

// start sends instant query q unless it was already started.
func (e *evaluation) start(ctx context.Context, q string) *queryCall {
	return e.begin("instant "+q, func(c *queryCall) { c.v, c.err = e.p.instant(ctx, q, e.ts) })
}

// startRange sends range query q unless it was already started.
func (e *evaluation) startRange(ctx context.Context, q string) *queryCall {
	return e.begin("range "+q, func(c *queryCall) { c.m, c.err = e.p.rangeQuery(ctx, q, e.rng) })
}

// get waits for instant query q's result, starting it if needed. Queries honour
// ctx, so this returns once ctx is done at the latest.
func (e *evaluation) get(ctx context.Context, q string) (model.Vector, error) {
	c := e.start(ctx, q)
	<-c.done
	return c.v, c.err
}

// getRange waits for range query q's result, starting it if needed.
func (e *evaluation) getRange(ctx context.Context, q string) (model.Matrix, error) {
	c := e.startRange(ctx, q)
	<-c.done
	return c.m, c.err
}
