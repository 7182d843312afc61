package analysis

import (
	"fmt"
	"math"
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// memory-growth compares how fast each side's working set grows: a leak is a
// slope, caught whatever size it starts from and long before the level crosses
// memory<=1.3x. Each side's slope is fitted by least squares within each pod
// (pooled over the pods, so a pod added at a later step, younger and smaller,
// never reads as memory freed) on the sampler's per-pod samples: the canary's
// since its pods started, the stable's from 5 minutes before the rollout. The
// gate fails the check when the canary's slope exceeds the stable's by more than
// the allowance (1Mi per minute by default) with growthZ standard errors to
// spare, so the noise of a few samples never fails it, and passes otherwise.
// Until a canary pod has growthMinSamples samples (and each stable pod two)
// there is no slope: the check passes saying so, as a gate shorter than that
// cannot see a leak, and holding every short step for it would stall them; the
// level check memory<=1.3x still applies. It is a gate check: its failures
// count toward rolloutd.io/threshold.

// growthZ is the margin, in standard errors of the slopes' difference, that a
// canary's excess growth must clear to fail.
const growthZ = 3

// growthMinSamples is the number of samples of one canary pod a slope needs.
const growthMinSamples = 3

// growthPoints bounds the samples kept per pod: a rollout held for hours (a
// pause, a manual gate) would otherwise grow its evidence by one sample per pod
// per tick. At the bound every other sample is dropped, so the fit still spans
// the whole rollout, at half the density.
const growthPoints = 360

// growthPoint is one working-set sample of a pod.
type growthPoint struct {
	at    time.Time
	bytes float64
}

// slope is a side's fitted growth in bytes per minute, its standard error and
// the most samples one pod had.
type slope struct {
	perMinute, se float64
	samples       int
}

// addMemory keeps one pod's working-set sample.
func (e *evidence) addMemory(sd side, pod string, at time.Time, v float64) {
	i := sd.index()
	if e.mem[i] == nil {
		e.mem[i] = map[string][]growthPoint{}
	}
	pts := e.mem[i][pod]
	if len(pts) >= growthPoints {
		pts = thin(pts)
	}
	e.mem[i][pod] = append(pts, growthPoint{at: at, bytes: v})
}

// thin keeps every other sample, the first and the latest included.
func thin(pts []growthPoint) []growthPoint {
	out := pts[:0]
	for j := 0; j < len(pts); j += 2 {
		out = append(out, pts[j])
	}
	if last := pts[len(pts)-1]; out[len(out)-1] != last {
		out = append(out, last)
	}
	return out
}

// growth fits one side's working-set slope within its pods: least squares
// with one mean per pod, the residuals' sum of squares being syy - slope*sxy.
func (e *evidence) growth(sd side) slope {
	var sxx, sxy, syy, n float64
	var out slope
	for _, pts := range e.mem[sd.index()] {
		out.samples = max(out.samples, len(pts))
		if len(pts) < 2 {
			continue
		}
		var mx, my float64
		for _, p := range pts {
			mx += p.at.Sub(pts[0].at).Minutes()
			my += p.bytes
		}
		mx, my = mx/float64(len(pts)), my/float64(len(pts))
		for _, p := range pts {
			dx, dy := p.at.Sub(pts[0].at).Minutes()-mx, p.bytes-my
			sxx, sxy, syy = sxx+dx*dx, sxy+dx*dy, syy+dy*dy
		}
		n += float64(len(pts) - 1) // each pod's own mean
	}
	if sxx <= 0 || n < 2 {
		out.se = math.Inf(1)
		return out
	}
	out.perMinute = sxy / sxx
	rss := max(syy-out.perMinute*sxy, 0)
	out.se = math.Sqrt(rss / (n - 1) / sxx)
	return out
}

// growthResult decides a memory-growth check at a step's gate.
func growthResult(c contract.Check, canary, stable slope) contract.CheckResult {
	r := contract.CheckResult{Name: c.Name(), Verdict: contract.Pass}
	if canary.samples < growthMinSamples || math.IsInf(canary.se, 1) {
		r.Reason = fmt.Sprintf("no slope yet: %d working-set samples of a canary pod, %d needed", canary.samples, growthMinSamples)
		return r
	}
	if math.IsInf(stable.se, 1) {
		r.Reason = "no slope of the stable yet: fewer than 2 working-set samples of each stable pod"
		return r
	}
	r.Value, r.Baseline = &canary.perMinute, &stable.perMinute
	se := math.Hypot(canary.se, stable.se)
	margin := c.Bound + growthZ*se
	figures := fmt.Sprintf("canary %s ± %s, stable %s ± %s; limit stable + %s allowance + %d standard errors",
		checkFormat(c, canary.perMinute), checkFormat(c, canary.se), checkFormat(c, stable.perMinute), checkFormat(c, stable.se), checkFormat(c, c.Bound), growthZ)
	if canary.perMinute-stable.perMinute > margin {
		r.Verdict, r.Reason = contract.Fail, "memory growth above its limit ("+figures+")"
		return r
	}
	r.Verdict, r.Reason = contract.Pass, "memory growth within its limit ("+figures+")"
	return r
}

// Growth is the memory-growth result of a tracked rollout's evidence, for a gate
// that has no standing to take it from (no canary request in the step yet): a
// slope needs working-set samples, not requests. Without usable evidence (the
// rollout not tracked yet, its evidence being rebuilt, or stale) there is no
// slope, which passes saying so, as too few samples do.
func (s *Sampler) Growth(namespace, name string, c contract.Check) contract.CheckResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr := s.rollouts[rolloutKey{namespace, name}]
	if tr == nil || !tr.ready || !s.fresh(tr) {
		return contract.CheckResult{Name: c.Name(), Verdict: contract.Pass,
			Reason: "no slope yet: the sampler has no working-set samples of this rollout yet"}
	}
	return growthResult(c, tr.ev.growth(canarySide), tr.ev.growth(stableSide))
}
