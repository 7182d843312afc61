package metrics

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Verdicts lists every check verdict, so the verdict gauge can set all but one to 0.
var Verdicts = []contract.Verdict{contract.Pass, contract.Fail, contract.Inconclusive}

// Rollout are the per-Deployment metrics that describe a release: which revision
// with which strategy and router, the last gate's figures per check, and how long
// rollouts and gates take. Label sets stay bounded: one info series and one series
// per check and verdict of each opted-in Deployment.
type Rollout struct {
	Info          *prometheus.GaugeVec
	CheckValue    *prometheus.GaugeVec
	CheckBaseline *prometheus.GaugeVec
	CheckVerdict  *prometheus.GaugeVec
	Duration      *prometheus.HistogramVec
	GateDuration  *prometheus.HistogramVec

	mu sync.Mutex
	// info remembers each Deployment's info labels, so a new revision replaces the
	// old series instead of adding one per release.
	info map[key]prometheus.Labels
	// checks remembers each Deployment's check names, so a check removed from the
	// spec loses its series.
	checks map[key][]string
}

type key struct{ ns, name string }

// Info is what rolloutd_rollout_info describes of a Deployment.
type Info struct {
	Revision, Strategy, Router string
}

func newRollout(f promauto.Factory) *Rollout {
	dep := []string{"namespace", "deployment"}
	check := append(dep[:2:2], "check")
	return &Rollout{
		Info: f.NewGaugeVec(prometheus.GaugeOpts{Name: "rolloutd_rollout_info",
			Help: "Always 1: the revision under release (or running) with its strategy and router."},
			append(dep[:2:2], "revision", "strategy", "router")),
		CheckValue: f.NewGaugeVec(prometheus.GaugeOpts{Name: "rolloutd_check_value",
			Help: "The canary's value of each check at the last gate, in the check's unit (ratio, seconds, cores, bytes)."}, check),
		CheckBaseline: f.NewGaugeVec(prometheus.GaugeOpts{Name: "rolloutd_check_baseline",
			Help: "The stable pods' value of each check at the last gate (absent for absolute checks)."}, check),
		CheckVerdict: f.NewGaugeVec(prometheus.GaugeOpts{Name: "rolloutd_check_verdict",
			Help: "1 for the verdict of each check at the last gate, 0 for the others."}, append(check, "verdict")),
		Duration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "rolloutd_rollout_duration_seconds",
			Help:    "Time from the start of a rollout to its end, by result (the final phase).",
			Buckets: []float64{30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400}}, []string{"result"}),
		GateDuration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "rolloutd_gate_duration_seconds",
			Help:    "Time to evaluate one analysis gate, by verdict.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, []string{"verdict"}),
		info:   map[key]prometheus.Labels{},
		checks: map[key][]string{},
	}
}

// Describe sets the info series of a Deployment, removing the one of its previous
// revision.
func (m *Rollout) Describe(ns, name string, in Info) {
	l := prometheus.Labels{"namespace": ns, "deployment": name, "revision": in.Revision,
		"strategy": in.Strategy, "router": in.Router}
	k := key{ns, name}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.info[k]; ok && !maps.Equal(old, l) {
		m.Info.Delete(old)
	}
	m.info[k] = l
	m.Info.With(l).Set(1)
}

// ObserveChecks records the last gate's value, baseline and verdict of each check;
// a value or baseline the gate did not measure has no series.
func (m *Rollout) ObserveChecks(ns, name string, checks []contract.CheckResult) {
	k := key{ns, name}
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(checks))
	for _, c := range checks {
		names = append(names, c.Name)
		setOrDelete(m.CheckValue, c.Value, ns, name, c.Name)
		setOrDelete(m.CheckBaseline, c.Baseline, ns, name, c.Name)
		for _, v := range Verdicts {
			x := 0.0
			if v == c.Verdict {
				x = 1
			}
			m.CheckVerdict.WithLabelValues(ns, name, c.Name, string(v)).Set(x)
		}
	}
	for _, old := range m.checks[k] {
		if !slices.Contains(names, old) {
			m.forgetCheck(ns, name, old)
		}
	}
	m.checks[k] = names
}

// Finished observes the duration of a rollout that has just ended in next.
func (m *Rollout) Finished(next contract.Status, now time.Time) {
	if next.StartedAt == nil {
		return
	}
	m.Duration.WithLabelValues(string(next.Phase)).Observe(now.Sub(*next.StartedAt).Seconds())
}

func (m *Rollout) forget(ns, name string) {
	k := key{ns, name}
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.info[k]; ok {
		m.Info.Delete(l)
	}
	for _, c := range m.checks[k] {
		m.forgetCheck(ns, name, c)
	}
	delete(m.info, k)
	delete(m.checks, k)
}

func (m *Rollout) forgetCheck(ns, name, check string) {
	l := prometheus.Labels{"namespace": ns, "deployment": name, "check": check}
	m.CheckValue.Delete(l)
	m.CheckBaseline.Delete(l)
	m.CheckVerdict.DeletePartialMatch(l)
}

func setOrDelete(g *prometheus.GaugeVec, v *float64, labels ...string) {
	if v == nil {
		g.DeleteLabelValues(labels...)
		return
	}
	g.WithLabelValues(labels...).Set(*v)
}
