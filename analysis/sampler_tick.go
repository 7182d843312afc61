package analysis

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"go.uber.org/zap"
)

// Every Interval the sampler sends one grouped query per family and source for
// all the rollouts whose evidence is ready, and hands each its slice.

// familyQuery renders the grouped query of one family.
func familyQuery(fam family, source contract.Source, label, nsRe string) (string, error) {
	switch {
	case fam == famLatency:
		return latencyQuery(source, nsRe)
	case fam.perPod():
		return resourceQuery(fam, nsRe)
	}
	return groupQuery(source, label, nsRe)
}

// queryKey identifies one grouped query of a tick.
type queryKey struct {
	fam    family
	source contract.Source
	label  string
}

// Tick runs one tick at now: one grouped query per family and source with
// rollouts to judge, sent together so that the tick lasts as long as the slowest
// (each within its own deadline of one Interval), each answer split among the
// rollouts. Run calls it every Interval.
func (s *Sampler) Tick(ctx context.Context, now time.Time) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	got := map[queryKey]model.Vector{}
	for key, nss := range s.readyQueries() {
		wg.Go(func() {
			if vec, ok := s.tickQuery(ctx, key, nss, now); ok {
				mu.Lock()
				got[key] = vec
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	s.apply(now, got)
}

// tickQuery sends one grouped query of a tick; false when it failed, which adds
// no evidence of its family that tick (fail closed).
func (s *Sampler) tickQuery(ctx context.Context, key queryKey, nss []string, now time.Time) (model.Vector, bool) {
	q, err := familyQuery(key.fam, key.source, key.label, namespacesRe(nss))
	if err != nil {
		s.log.Error("sampler query", zap.Error(err))
		return nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Interval)
	defer cancel()
	vec, err := s.prom.instant(ctx, q, now)
	if err != nil {
		s.log.Warn("sampler query failed; the tick adds no evidence", zap.String("source", string(key.source)), zap.Error(err))
		return nil, false
	}
	return vec, true
}

// readyQueries lists, per grouped query, the namespaces of the rollouts whose
// evidence is ready and needs it.
func (s *Sampler) readyQueries() map[queryKey][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[queryKey][]string{}
	for k, tr := range s.rollouts {
		if !tr.ready {
			continue
		}
		for _, fam := range tr.fams {
			key := tr.queryKey(fam)
			out[key] = append(out[key], k.namespace)
		}
	}
	return out
}

// queryKey is the grouped query a rollout's family is read from.
func (tr *tracked) queryKey(fam family) queryKey {
	switch {
	case fam.perPod():
		return queryKey{fam: fam} // cAdvisor's, whatever the source
	case fam == famRequests:
		return queryKey{fam: fam, source: tr.ev.target.Source, label: tr.ev.label}
	}
	return queryKey{fam: fam, source: tr.ev.target.Source}
}

// apply hands each ready rollout its slices of one tick's answers and notifies
// those whose standing became conclusive. A rollout whose request query failed,
// or whose request answer has no finite series of it (NaN, or nothing), adds
// nothing that tick: its evidence is not refreshed and goes stale after
// staleAfter ticks, and nothing is notified, since its standing did not change.
func (s *Sampler) apply(now time.Time, got map[queryKey]model.Vector) {
	var notify []rolloutKey
	s.mu.Lock()
	for k, tr := range s.rollouts {
		if !tr.ready || !now.After(tr.ev.lastAt()) {
			continue
		}
		in := answers{}
		for _, fam := range tr.fams {
			if vec, ok := got[tr.queryKey(fam)]; ok {
				in[fam] = vec
			}
		}
		if !tr.ev.addTick(now, in) {
			s.log.Debug("sampler tick without a finite request series of the rollout; its evidence is not refreshed",
				zap.String("namespace", k.namespace), zap.String("deployment", k.name))
			continue
		}
		st := s.standing(tr, tr.stepStart)
		v := st.Verdict
		if v == contract.Pass && !st.Exposed {
			v = contract.Inconclusive // nothing to act on yet
		}
		if v != contract.Inconclusive && v != tr.notified {
			notify = append(notify, k)
		}
		tr.notified = v
	}
	s.mu.Unlock()
	if s.opts.Notify == nil {
		return
	}
	for _, k := range notify {
		s.opts.Notify(k.namespace, k.name)
	}
}
