package contract

import (
	"time"

	"github.com/rolloutd/rolloutd/traffic"
)

// Prefix is the annotation prefix of every key rolloutd reads or writes.
const Prefix = "rolloutd.io/"

// Annotation keys the user writes (the contract's opt-in table).
const (
	KeyEnabled         = Prefix + "enabled"
	KeyStrategy        = Prefix + "strategy"
	KeyRouter          = Prefix + "router"
	KeyIngress         = Prefix + "ingress"
	KeyRoute           = Prefix + "route"
	KeyService         = Prefix + "service"
	KeySteps           = Prefix + "steps"
	KeyInterval        = Prefix + "interval"
	KeyThreshold       = Prefix + "threshold"
	KeyChecks          = Prefix + "checks"
	KeyAnalysis        = Prefix + "analysis"
	KeyPauseAt         = Prefix + "pause-at"
	KeyMatch           = Prefix + "match"
	KeyMirror          = Prefix + "mirror"
	KeySticky          = Prefix + "sticky"
	KeyBatches         = Prefix + "batches"
	KeyMaxSurge        = Prefix + "max-surge"
	KeyMaxUnavailable  = Prefix + "max-unavailable"
	KeyRollingOrder    = Prefix + "rolling-order"
	KeyConfirm         = Prefix + "confirm"
	KeyAlertRollback   = Prefix + "alert-rollback"
	KeyAlertSelector   = Prefix + "alert-selector"
	KeyRollbackWindow  = Prefix + "rollback-window"
	KeyRevisionHistory = Prefix + "revision-history"
	KeyNotify          = Prefix + "notify"
	KeyAdaptive        = Prefix + "adaptive"
	KeyMetricSource    = Prefix + "metric-source"
)

// UserKeys lists every annotation key the user writes (the daemon's own keys, such
// as the status, are not among them).
var UserKeys = []string{KeyEnabled, KeyStrategy, KeyRouter, KeyRoute, KeyIngress, KeyService, KeySteps, KeyInterval,
	KeyThreshold, KeyChecks, KeyAnalysis, KeyPauseAt, KeyMatch, KeyMirror, KeySticky, KeyBatches, KeyMaxSurge,
	KeyMaxUnavailable, KeyRollingOrder, KeyConfirm, KeyAlertRollback, KeyAlertSelector, KeyRollbackWindow,
	KeyRevisionHistory, KeyNotify, KeyMetricSource}

// UserAnnotations returns the user's rolloutd.io annotations among ann (nil when
// there are none).
func UserAnnotations(ann map[string]string) map[string]string {
	var out map[string]string
	for _, k := range UserKeys {
		if v, ok := ann[k]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// Strategy is the form a release takes.
type Strategy string

// Release strategies.
const (
	Canary    Strategy = "canary"
	BlueGreen Strategy = "bluegreen"
	ABTest    Strategy = "abtest"
	Batch     Strategy = "batch"
)

// Router is how user traffic is split between stable and canary.
type Router string

// Routers.
const (
	RouterNginx Router = "nginx"
	RouterIstio Router = "istio"
	// RouterGateway splits the user's Gateway API HTTPRoute.
	RouterGateway Router = "gateway"
	RouterService Router = "service"
)

// SelectsCanary reports whether the user's Service selects the canary's pods too
// (true only for the replica-ratio router, whose split is the pod ratio).
func (r Router) SelectsCanary() bool { return r == RouterService }

// RequestSource is where a rollout's request metrics come from: the ingress or
// mesh proxy for nginx and istio; for the replica-ratio router the
// application's own per-pod metrics; for the Gateway API router the same by
// default (every Gateway names its own metrics its own way), or Istio's
// standard metrics when rolloutd.io/metric-source says the Gateway is Istio's.
func (s Spec) RequestSource() Source {
	if s.Router == RouterGateway {
		if s.MetricSource != "" {
			return s.MetricSource
		}
		return SourceService
	}
	return Source(s.Router)
}

// RollingOrder orders pod creation and removal within a batch.
type RollingOrder string

// Rolling orders.
const (
	CreateFirst RollingOrder = "create-first"
	DeleteFirst RollingOrder = "delete-first"
)

// Spec is the validated release configuration of one Deployment.
type Spec struct {
	Enabled  bool
	Strategy Strategy
	Router   Router
	Ingress  string
	// Route is the user's route (router gateway), of kind RouteKind.
	Route         string
	RouteKind     RouteKind
	Service       string
	Steps         []int
	Interval      time.Duration
	Threshold     int
	Checks        []Check
	Analysis      string
	PauseAt       PauseAt
	Match         *traffic.Match
	MirrorPercent int
	Sticky        bool
	// MetricSource is where the request checks of router gateway read:
	// analysis.SourceService (the application's per-pod metrics, the default
	// when empty) or analysis.SourceIstio (the Gateway is Istio's). The other
	// routers read their own and leave it empty.
	MetricSource    Source
	Batches         []Quantity
	MaxSurge        Quantity
	MaxUnavailable  Quantity
	RollingOrder    RollingOrder
	ConfirmManual   bool
	AlertRollback   bool
	AlertSelector   map[string]string
	RollbackWindow  time.Duration
	RevisionHistory int
	// Notify names the notification channels for this Deployment (slack, teams,
	// webhook); nil means every channel the daemon configures, empty means none.
	Notify []string
	// Adaptive lets a step advance before its interval ends once the
	// continuous judge shows every check within tolerance (rolloutd.io/adaptive).
	Adaptive bool
}

// PauseAt is the set of weights (or batch numbers) where a rollout waits for approval.
type PauseAt struct {
	All    bool
	Values map[int]bool
}

// Has reports whether the rollout must wait for approval at v.
func (p PauseAt) Has(v int) bool { return p.All || p.Values[v] }

// Quantity is a replica count or a percentage of the desired replicas.
type Quantity struct {
	Value   int
	Percent bool
}

// Of resolves the quantity against a total; percentages round up when roundUp.
func (q Quantity) Of(total int32, roundUp bool) int32 {
	if !q.Percent {
		return int32(q.Value)
	}
	n := int64(total) * int64(q.Value)
	if roundUp {
		return int32((n + 99) / 100)
	}
	return int32(n / 100)
}
