package analysis

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"go.uber.org/zap"
)

// Sampler defaults.
const (
	DefaultSampleInterval = 10 * time.Second
	// DefaultFalseRollback bounds the probability that a canary within
	// tolerance on every sequential check is rolled back by them, over its
	// whole rollout (all steps, all checks, looked at every tick).
	DefaultFalseRollback = 0.01
	// DefaultMinStepExposure and DefaultMinStepRequests are what a step must
	// have seen before its checks' evidence may advance it early.
	DefaultMinStepExposure = 20 * time.Second
	DefaultMinStepRequests = 100
)

// SamplerOptions configure a Sampler. Zero values take the defaults above.
type SamplerOptions struct {
	Interval        time.Duration
	FalseRollback   float64
	MinStepExposure time.Duration
	MinStepRequests float64
	// Notify is called (from the sampler's goroutine) when a rollout's
	// standing became conclusive at a tick: a check failed, or every check
	// showed the canary within tolerance after the step's minimum exposure.
	Notify func(namespace, name string)
	// Now is the clock the evidence's freshness and rebuilds read; nil is
	// time.Now. A program replaying simulated time (e2e/bench/judge) sets it
	// and calls Tick itself.
	Now func() time.Time
}

// Sequential is the continuous judge's standing for one rollout: the verdict of
// its sequential checks on the evidence since the canary's first traffic.
type Sequential struct {
	// Verdict is Fail when a check rejected "within tolerance", Pass when every
	// sequential check showed the canary within tolerance, else Inconclusive.
	Verdict contract.Verdict
	// Checks are the sequential checks' results, with their figures.
	Checks []contract.CheckResult
	// StepChecks are what the step's gate records for those checks: the
	// sequential result where it is conclusive, else the plain comparison of
	// the step's own counts, as a gate without continuous judgement decides.
	StepChecks []contract.CheckResult
	// Exposed is true once the current step has had the minimum exposure
	// (time and canary requests) an early advance needs, and every cpu or load
	// check passes for an early advance (see sameWorkResult: one decided
	// without the stable's fit must pass its strict figure too).
	Exposed bool
	// StepCanary and StepStable are the counts of the current step.
	StepCanary, StepStable Counts
	// At is the time of the latest good tick (one with a finite request
	// series of the rollout).
	At time.Time
}

// Sequentially reports whether the continuous judge decides c: the built-in
// error-rate and latency checks and the ratio forms of cpu and load. The
// others keep their per-gate queries, but memory-growth (FromEvidence).
func Sequentially(c contract.Check) bool {
	return c.Custom == nil && (c.Metric == contract.MetricErrorRate || c.Metric == contract.MetricLatency || sameWorkCheck(c))
}

// sameWorkCheck is a ratio cpu or load check: compared for the same work
// (resources.go), continuously (sequential_usage.go) and at the step's gate.
func sameWorkCheck(c contract.Check) bool {
	return c.Custom == nil && c.Mode == contract.Ratio && (c.Metric == contract.MetricCPU || c.Metric == contract.MetricLoad)
}

// FromEvidence reports whether a canary step's gate takes c's result from the
// sampler's evidence instead of querying: the sequential checks, the ratio
// forms of cpu and load, compared for the same work (resources.go), and
// memory-growth (growth.go), at the gate.
func FromEvidence(c contract.Check) bool {
	return Sequentially(c) || (c.Custom == nil && c.Metric == contract.MetricMemoryGrowth)
}

// familiesOf lists the series families checks need, requests always first:
// they tell whether the canary had traffic at all.
func familiesOf(checks []contract.Check) []family {
	out := []family{famRequests}
	add := func(f family) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	for _, c := range checks {
		switch c.Metric {
		case contract.MetricLatency:
			add(famLatency)
		case contract.MetricCPU:
			add(famCPU)
		case contract.MetricLoad:
			add(famLoad)
		case contract.MetricMemoryGrowth:
			add(famMemory)
		}
	}
	return out
}

// readsResources reports families with cAdvisor series: their evidence starts
// before the rollout, for the stable's fit.
func readsResources(fams []family) bool { return slices.ContainsFunc(fams, family.perPod) }

// Sampler reads the request counters of every analysed rollout on one tick, with
// one grouped query per source, and keeps each rollout's evidence. Safe for
// concurrent use.
type Sampler struct {
	prom   *prom
	opts   SamplerOptions
	minReq float64
	labels map[contract.Source]string
	log    *zap.Logger

	// rebuilds bounds the evidence rebuilds in flight to a quarter of the query
	// slots: many rollouts starting at once each send range queries, and the
	// ticks and gates must still find slots.
	rebuilds chan struct{}

	mu       sync.Mutex
	rollouts map[rolloutKey]*tracked
}

type rolloutKey struct{ namespace, name string }

// tracked is one rollout under continuous judgement.
type tracked struct {
	revision  string
	since     time.Time
	checks    []contract.Check
	fams      []family // the series families the checks read
	ev        *evidence
	ready     bool             // rebuilt from Prometheus; ticks update it from then on
	rebuild   bool             // a rebuild is under way
	notified  contract.Verdict // the last conclusive standing Notify was called for
	stepStart time.Time        // the current step's start, as last observed
}

// NewSampler returns a Sampler sending its queries through a's Prometheus client
// (and its bound on queries in flight).
func NewSampler(a *Analyzer, opts SamplerOptions) *Sampler {
	if opts.Interval <= 0 {
		opts.Interval = DefaultSampleInterval
	}
	if opts.FalseRollback <= 0 || opts.FalseRollback >= 1 {
		opts.FalseRollback = DefaultFalseRollback
	}
	if opts.MinStepExposure <= 0 {
		opts.MinStepExposure = DefaultMinStepExposure
	}
	if opts.MinStepRequests <= 0 {
		opts.MinStepRequests = DefaultMinStepRequests
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sampler{prom: a.prom, opts: opts, labels: a.statusLabel, log: a.log, minReq: a.minRequests,
		rebuilds: make(chan struct{}, max(1, cap(a.prom.sem)/4)), rollouts: map[rolloutKey]*tracked{}}
}

// Interval is the sampler's tick.
func (s *Sampler) Interval() time.Duration { return s.opts.Interval }

// Run samples every Interval until ctx is done.
func (s *Sampler) Run(ctx context.Context) {
	tick := time.NewTicker(s.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			s.Tick(ctx, now)
		}
	}
}

// Observe starts or continues the continuous judgement of t's rollout of
// revision, whose evidence counts from since (when the rollout began: the canary
// has no traffic before its first step), and returns its standing for the step
// that started at stepStart. It returns nil while there is nothing to judge yet:
// no sequential check, or the evidence is being rebuilt from Prometheus.
func (s *Sampler) Observe(ctx context.Context, t Target, revision string, since, stepStart time.Time, checks []contract.Check) *Sequential {
	var seq []contract.Check
	for _, c := range checks {
		if FromEvidence(c) {
			seq = append(seq, c)
		}
	}
	if len(seq) == 0 || t.Validate() != nil {
		s.Forget(t.Namespace, t.Deployment)
		return nil
	}
	if t.StatusLabel == "" {
		t.StatusLabel = s.labels[t.Source]
	}
	// Only what selects the series identifies the evidence; the gate's window does not.
	t.Window, t.End, t.BaselineOffset = time.Second, time.Time{}, 0
	k := rolloutKey{t.Namespace, t.Deployment}
	s.mu.Lock()
	defer s.mu.Unlock()
	tr := s.rollouts[k]
	fams := familiesOf(seq)
	// Evidence of another family set is rebuilt: a family added later would
	// otherwise start without its history.
	if tr == nil || tr.revision != revision || !tr.since.Equal(since) || tr.ev.target != t || !slices.Equal(tr.fams, fams) {
		tr = &tracked{revision: revision, since: since, ev: newEvidence(t, since), fams: fams}
		s.rollouts[k] = tr
	}
	tr.checks = seq
	if !stepStart.Equal(tr.stepStart) {
		tr.stepStart, tr.notified = stepStart, "" // a new step is acted on afresh
	}
	if !tr.ready {
		if !tr.rebuild {
			tr.rebuild = true
			go s.rebuildEvidence(context.WithoutCancel(ctx), k, tr)
		}
		return nil
	}
	return s.standingIfFresh(tr, stepStart)
}

// standingIfFresh is the standing, or nil when there was no good tick yet or
// none for staleAfter ticks (Prometheus unreachable, or answering NaN or
// nothing of the rollout): stale counts never decide, so the gate queries for
// itself and fails closed. s.mu is held.
func (s *Sampler) standingIfFresh(tr *tracked, stepStart time.Time) *Sequential {
	if !s.fresh(tr) {
		return nil
	}
	st := s.standing(tr, stepStart)
	// Evidence that has seen no canary request in this step yet (a new revision
	// before its first delta, a gate shorter than the tick) has learned nothing:
	// the gate queries for itself rather than count "no traffic" against the canary.
	if st.Verdict != contract.Fail && st.StepCanary.Requests == 0 {
		return nil
	}
	return st
}

// staleAfter is how many missed ticks make a rollout's evidence stale.
const staleAfter = 3

// fresh reports whether a rollout's evidence had a good tick within staleAfter
// ticks.
func (s *Sampler) fresh(tr *tracked) bool {
	at := tr.ev.lastAt()
	return !at.IsZero() && s.opts.Now().Sub(at) <= staleAfter*s.opts.Interval
}

// Ready reports whether a tracked rollout's evidence is rebuilt, so that the
// ticks update it; false for a rollout not tracked.
func (s *Sampler) Ready(namespace, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr := s.rollouts[rolloutKey{namespace, name}]
	return tr != nil && tr.ready
}

// Forget stops judging a rollout (it ended, or left the canary strategy).
func (s *Sampler) Forget(namespace, name string) {
	s.mu.Lock()
	delete(s.rollouts, rolloutKey{namespace, name})
	s.mu.Unlock()
}

// standing computes a rollout's verdict; s.mu is held. Only the sequential
// checks decide at a tick (and share the false-rollback bound); the others
// are the step gate's record only.
func (s *Sampler) standing(tr *tracked, stepStart time.Time) *Sequential {
	n := 0
	for _, c := range tr.checks {
		if Sequentially(c) {
			n++
		}
	}
	out := &Sequential{Verdict: contract.Pass, At: tr.ev.lastAt()}
	if n == 0 {
		out.Verdict = contract.Inconclusive // nothing is judged continuously
	}
	alpha := s.opts.FalseRollback / float64(max(n, 1))
	out.StepCanary, out.StepStable = tr.ev.since(stepStart)
	settled := true // every cpu and load check passes for an early advance
	for _, c := range tr.checks {
		r, step, seq, early := s.judgeCheck(tr, c, alpha, stepStart, out)
		out.StepChecks = append(out.StepChecks, step)
		settled = settled && early
		if !seq {
			continue
		}
		out.Checks = append(out.Checks, r)
		switch {
		case r.Verdict == contract.Fail:
			out.Verdict = contract.Fail
		case r.Verdict != contract.Pass && out.Verdict == contract.Pass:
			out.Verdict = contract.Inconclusive
		}
	}
	out.Exposed = settled && !stepStart.IsZero() && out.At.Sub(stepStart) >= s.opts.MinStepExposure &&
		out.StepCanary.Requests >= s.opts.MinStepRequests
	return out
}

// judgeCheck is one check's sequential result (seq true) and its step gate's
// record; early is false for a cpu or load check that may not let the step
// advance before its end (see sameWorkResult).
func (s *Sampler) judgeCheck(tr *tracked, c contract.Check, alpha float64, stepStart time.Time, st *Sequential) (r, step contract.CheckResult, seq, early bool) {
	ev := tr.ev
	switch c.Metric {
	case contract.MetricLatency:
		r = SequentialLatency(c, ev.hist[0], ev.hist[1], alpha)
		return r, s.stepLatency(c, r, st.StepCanary, ev.histSince(stepStart)), true, true
	case contract.MetricErrorRate:
		r = SequentialErrorRate(c, ev.label, ev.total[0], ev.total[1], alpha)
		return r, s.stepResult(c, r, ev.label, st.StepCanary, st.StepStable), true, true
	case contract.MetricMemoryGrowth:
		return contract.CheckResult{}, growthResult(c, ev.growth(canarySide), ev.growth(stableSide)), false, true
	}
	fam := famCPU
	if c.Metric == contract.MetricLoad {
		fam = famLoad
	}
	u := ev.usageSince(stepStart, fam)
	f := newStableFit(ev.stableSamples(fam))
	step, early = sameWorkResult(c, u[0], u[1], f, s.minReq)
	if !sameWorkCheck(c) {
		return contract.CheckResult{}, step, false, early
	}
	r = sequentialUsage(c, ev.usageTicks(fam), f, alpha, s.minReq)
	switch {
	case r.Verdict == contract.Fail:
		return r, r, true, false
	case early:
		r.Verdict = contract.Pass // within tolerance of the strict figure too
		r.Reason = "within its limit for the same work in this step; " + r.Reason
	}
	return r, step, true, early
}

// String describes the sampler for logs.
func (s *Sampler) String() string {
	return fmt.Sprintf("sampler every %s, false-rollback bound %g", s.opts.Interval, s.opts.FalseRollback)
}
