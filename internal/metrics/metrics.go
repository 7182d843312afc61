// Package metrics holds the daemon's own Prometheus metrics, registered on a
// registry passed in (never the global one). Per-Deployment series are removed when
// the Deployment opts out or is deleted, so cardinality stays bounded by the number
// of opted-in Deployments.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Phases lists every phase, so the phase gauge can set all but one to 0.
var Phases = []contract.Phase{contract.Idle, contract.Progressing, contract.Paused, contract.PendingConfirmation,
	contract.Promoting, contract.Succeeded, contract.RollingBack, contract.RolledBack, contract.Aborted}

// Metrics are the daemon's metrics.
type Metrics struct {
	Phase           *prometheus.GaugeVec
	Weight          *prometheus.GaugeVec
	Step            *prometheus.GaugeVec
	Reconcile       *prometheus.HistogramVec
	ReconcileErrors *prometheus.CounterVec
	Gates           *prometheus.CounterVec
	Checks          *prometheus.CounterVec
	Transitions     *prometheus.CounterVec
	Rollbacks       *prometheus.CounterVec
	AlertRollbacks  *prometheus.CounterVec
	RollbackLatency *prometheus.HistogramVec
	QueueDepth      prometheus.GaugeFunc
	DriftRepairs    *prometheus.CounterVec
	Panics          prometheus.Counter
	// StatusWriteFailures counts rollbacks whose status could not be written:
	// their traffic left the canary anyway.
	StatusWriteFailures *prometheus.CounterVec
	*Rollout
}

// New registers the metrics on reg; depth reports the workqueue's length.
func New(reg prometheus.Registerer, depth func() int) *Metrics {
	m := NewUnobserved(reg)
	m.ObserveQueue(reg, depth)
	return m
}

// ObserveQueue registers the workqueue depth gauge on reg, reading depth at each
// scrape. It is apart from NewUnobserved because the queue belongs to the
// controller, which is built with the metrics.
func (m *Metrics) ObserveQueue(reg prometheus.Registerer, depth func() int) {
	m.QueueDepth = promauto.With(reg).NewGaugeFunc(prometheus.GaugeOpts{Name: "rolloutd_workqueue_depth",
		Help: "Deployments waiting to be reconciled."}, func() float64 { return float64(depth()) })
}

// NewUnobserved registers the metrics on reg but the workqueue depth
// (ObserveQueue).
func NewUnobserved(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	dep := []string{"namespace", "deployment"}
	return &Metrics{
		Phase: f.NewGaugeVec(prometheus.GaugeOpts{Name: "rolloutd_rollout_phase",
			Help: "1 for the phase the Deployment's rollout is in, 0 for the others."}, append(dep, "phase")),
		Weight: f.NewGaugeVec(prometheus.GaugeOpts{Name: "rolloutd_canary_weight_percent",
			Help: "Share of user traffic routed to the canary, in percent."}, dep),
		Step: f.NewGaugeVec(prometheus.GaugeOpts{Name: "rolloutd_rollout_step",
			Help: "Current step of the rollout (1-based; 0 when none)."}, dep),
		Reconcile: f.NewHistogramVec(prometheus.HistogramOpts{Name: "rolloutd_reconcile_duration_seconds",
			Help:    "Time to reconcile one Deployment.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"result"}),
		ReconcileErrors: f.NewCounterVec(prometheus.CounterOpts{Name: "rolloutd_reconcile_errors_total",
			Help: "Reconciles that ended in an error, by kind."}, []string{"kind"}),
		Gates: f.NewCounterVec(prometheus.CounterOpts{Name: "rolloutd_gates_total",
			Help: "Analysis gates evaluated, by verdict."}, []string{"verdict"}),
		Checks: f.NewCounterVec(prometheus.CounterOpts{Name: "rolloutd_checks_total",
			Help: "Analysis checks evaluated, by check and verdict."}, []string{"check", "verdict"}),
		Transitions: f.NewCounterVec(prometheus.CounterOpts{Name: "rolloutd_transitions_total",
			Help: "Rollout transitions, by reason."}, []string{"reason"}),
		Rollbacks: f.NewCounterVec(prometheus.CounterOpts{Name: "rolloutd_rollbacks_total",
			Help: "Rollbacks started, by reason."}, []string{"reason"}),
		AlertRollbacks: f.NewCounterVec(prometheus.CounterOpts{Name: "rolloutd_alert_rollbacks_total",
			Help: "Rollbacks started by a firing alert, by stage: rollout (canary) or promoted (previous revision restored)."},
			[]string{"stage"}),
		RollbackLatency: f.NewHistogramVec(prometheus.HistogramOpts{Name: "rolloutd_rollback_latency_seconds",
			Help: "Time from the evidence for a rollback (a failed gate evaluated, a firing alert seen by the controller) " +
				"to the write that takes all traffic off the canary, by cause: gate or alert.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"cause"}),
		StatusWriteFailures: f.NewCounterVec(prometheus.CounterOpts{Name: "rolloutd_status_write_failures_total",
			Help: "Status writes of a rollback that failed, by error kind; the rollback took traffic off the canary regardless."},
			[]string{"kind"}),
		DriftRepairs: f.NewCounterVec(prometheus.CounterOpts{Name: "rolloutd_drift_repairs_total",
			Help: "Generated objects found changed or deleted by someone else and restored, by kind."}, []string{"kind"}),
		Panics: f.NewCounter(prometheus.CounterOpts{Name: "rolloutd_reconcile_panics_total",
			Help: "Reconciles that panicked (recovered, logged with the stack and retried with backoff)."}),
		Rollout: newRollout(f),
	}
}

// Observe records a Deployment's current phase, weight and step.
func (m *Metrics) Observe(ns, name string, st contract.Status) {
	for _, p := range Phases {
		v := 0.0
		if p == st.Phase {
			v = 1
		}
		m.Phase.WithLabelValues(ns, name, string(p)).Set(v)
	}
	m.Weight.WithLabelValues(ns, name).Set(float64(st.Weight))
	m.Step.WithLabelValues(ns, name).Set(float64(st.Step))
	m.ObserveChecks(ns, name, st.Checks)
}

// Forget removes every series of a Deployment that opted out or was deleted.
func (m *Metrics) Forget(ns, name string) {
	labels := prometheus.Labels{"namespace": ns, "deployment": name}
	m.Phase.DeletePartialMatch(labels)
	m.Weight.Delete(labels)
	m.Step.Delete(labels)
	m.forget(ns, name)
}
