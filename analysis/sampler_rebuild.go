package analysis

import (
	"context"
	"fmt"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"
)

// A rollout the sampler starts judging, or judges again after a restart, has
// its evidence rebuilt from Prometheus: one range query per family since the
// rollout began, at the tick's step; the ticks carry on from there.

// rebuildTurn waits for one of the rebuilds' turns, at most until ctx is done;
// the caller releases it by receiving from s.rebuilds.
func (s *Sampler) rebuildTurn(ctx context.Context) error {
	select {
	case s.rebuilds <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for a rebuild turn: %w", ctx.Err())
	}
}

// rangeAnswers sends the range query of each of tr's families.
func (s *Sampler) rangeAnswers(ctx context.Context, tr *tracked, r promv1.Range) (map[family]model.Matrix, error) {
	t := tr.ev.target
	matrices := map[family]model.Matrix{}
	for _, fam := range tr.fams {
		q, err := familyQuery(fam, t.Source, t.statusLabel(), namespacesRe([]string{t.Namespace}))
		if err != nil {
			return nil, err
		}
		if matrices[fam], err = s.prom.rangeQuery(ctx, q, r); err != nil {
			return nil, err
		}
	}
	return matrices, nil
}

// rebuildEvidence replays the rollout's counters from since to now (one range
// query per family at the sampler's tick), then lets the ticks carry on from there.
func (s *Sampler) rebuildEvidence(ctx context.Context, k rolloutKey, tr *tracked) {
	ctx, cancel := context.WithTimeout(ctx, 4*s.prom.timeout)
	defer cancel()
	var start, now time.Time
	var matrices map[family]model.Matrix
	err := s.rebuildTurn(ctx) // first, so that the replay reaches up to when it runs
	if err == nil {
		defer func() { <-s.rebuilds }()
		// Whole seconds, so the answer's steps fall exactly on start + k*Interval.
		now = s.opts.Now().Truncate(time.Second)
		start = tr.since.Truncate(time.Second)
		if start.After(now) || start.IsZero() {
			start = now
		}
		if readsResources(tr.fams) {
			start = start.Add(-preRollout)
		}
		matrices, err = s.rangeAnswers(ctx, tr, promv1.Range{Start: start, End: now, Step: s.opts.Interval})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tr.rebuild = false
	if err != nil {
		s.log.Warn("rebuilding rollout evidence failed; retried at the next reconcile", zap.String("namespace", k.namespace),
			zap.String("deployment", k.name), zap.Error(err))
		return
	}
	for at := start; !at.After(now); at = at.Add(s.opts.Interval) {
		// A step without a finite request series of the rollout is a gap in
		// Prometheus' data, not a tick without traffic: addTick skips it, which
		// keeps the evidence as old as its data, so a gap up to now reads as stale.
		in := answers{}
		for fam, m := range matrices {
			in[fam] = vectorAt(m, at)
		}
		tr.ev.addTick(at, in)
	}
	tr.ready = true
}

// vectorAt is the instant vector of a range answer at one of its steps.
func vectorAt(m model.Matrix, at time.Time) model.Vector {
	ts := model.TimeFromUnixNano(at.UnixNano())
	var out model.Vector
	for _, ss := range m {
		for _, p := range ss.Values {
			if p.Timestamp == ts {
				out = append(out, &model.Sample{Metric: ss.Metric, Value: p.Value, Timestamp: ts})
				break
			}
		}
	}
	return out
}
