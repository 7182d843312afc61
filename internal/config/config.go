// Package config reads the daemon's configuration from the environment (prefix
// ROLLOUTD_) and validates it loudly: a bad value stops the daemon at start with a
// message naming the variable, never later.
package config

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Config is every setting of the daemon. Each field's env tag is its variable name
// without the ROLLOUTD_ prefix; README.md documents each with its default.
type Config struct {
	PrometheusURL    string        `env:"PROMETHEUS_URL, default=http://prometheus:9090"`
	Namespaces       []string      `env:"NAMESPACES"`
	HTTPAddr         string        `env:"HTTP_ADDR, default=:8080"`
	WebhookTokenFile string        `env:"WEBHOOK_TOKEN_FILE"`
	LeaderElect      string        `env:"LEADER_ELECT"`
	LeaseName        string        `env:"LEASE_NAME, default=rolloutd"`
	LeaseNamespace   string        `env:"LEASE_NAMESPACE"`
	LeaseDuration    time.Duration `env:"LEASE_DURATION, default=15s"`
	RenewDeadline    time.Duration `env:"RENEW_DEADLINE, default=10s"`
	RetryPeriod      time.Duration `env:"RETRY_PERIOD, default=2s"`
	LogFormat        string        `env:"LOG_FORMAT, default=json"`
	LogLevel         string        `env:"LOG_LEVEL, default=info"`
	Workers          int           `env:"WORKERS, default=32"`
	KubeQPS          float32       `env:"KUBE_QPS, default=100"`
	KubeBurst        int           `env:"KUBE_BURST, default=200"`
	// The writes that take traffic off a canary (alert marks, the persisted
	// rollback, the traffic object) have a client budget of their own, sized for
	// a burst of 1000 rollbacks of 3 writes each; their workers take the
	// Deployments carrying an alert or a command ahead of the rest.
	RollbackQPS       float32       `env:"ROLLBACK_QPS, default=300"`
	RollbackBurst     int           `env:"ROLLBACK_BURST, default=3000"`
	RollbackWorkers   int           `env:"ROLLBACK_WORKERS, default=64"`
	WebhookWorkers    int           `env:"WEBHOOK_WORKERS, default=32"`
	QueryTimeout      time.Duration `env:"QUERY_TIMEOUT, default=5s"`
	MaxQueries        int           `env:"MAX_CONCURRENT_QUERIES, default=16"`
	GateTimeout       time.Duration `env:"GATE_TIMEOUT"`
	MinRequests       float64       `env:"MIN_REQUESTS, default=20"`
	Judge             string        `env:"JUDGE, default=off"`
	StatusLabels      string        `env:"STATUS_LABELS"`
	SampleInterval    time.Duration `env:"SAMPLE_INTERVAL, default=10s"`
	ResyncPeriod      time.Duration `env:"RESYNC_PERIOD, default=10m"`
	ShutdownTimeout   time.Duration `env:"SHUTDOWN_TIMEOUT, default=10s"`
	DefaultReadyLimit time.Duration `env:"CANARY_READY_TIMEOUT, default=10m"`
	UnreadyLimit      time.Duration `env:"CANARY_UNREADY_LIMIT, default=30s"`
	StandingRefresh   time.Duration `env:"STANDING_REFRESH, default=30s"`
	Kubeconfig        string        `env:"KUBECONFIG"`
	Pprof             bool          `env:"PPROF, default=false"`
	// Notification webhook URLs are secrets: only the files holding them are
	// configured (mounted Secrets), never the URLs themselves.
	NotifySlackURLFile   string        `env:"NOTIFY_SLACK_URL_FILE"`
	NotifyTeamsURLFile   string        `env:"NOTIFY_TEAMS_URL_FILE"`
	NotifyWebhookURLFile string        `env:"NOTIFY_WEBHOOK_URL_FILE"`
	NotifyTimeout        time.Duration `env:"NOTIFY_TIMEOUT, default=5s"`
	NotifyQueueSize      int           `env:"NOTIFY_QUEUE_SIZE, default=256"`
}

// Load reads the configuration from the process environment.
func Load(ctx context.Context) (Config, error) {
	return LoadFrom(ctx, envconfig.OsLookuper())
}

// LoadFrom reads the configuration through l (tests pass a map).
func LoadFrom(ctx context.Context, l envconfig.Lookuper) (Config, error) {
	var c Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{
		Target:   &c,
		Lookuper: envconfig.PrefixLookuper("ROLLOUTD_", l),
	}); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, c.Validate()
}

// Gate is the bound of one gate's analysis: ROLLOUTD_GATE_TIMEOUT, or four query
// timeouts when it is unset (room for three attempts and their backoff).
func (c Config) Gate() time.Duration {
	if c.GateTimeout > 0 {
		return c.GateTimeout
	}
	return 4 * c.QueryTimeout
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var p problems
	c.validateEndpoints(&p)
	c.validateCapacity(&p)
	c.validateLoops(&p)
	return errors.Join(p...)
}

// problems collects the bad settings, each named by its environment variable.
type problems []error

func (p *problems) bad(name, format string, args ...any) {
	*p = append(*p, fmt.Errorf("ROLLOUTD_%s: "+format, append([]any{name}, args...)...))
}

// validateEndpoints checks Prometheus's URL, the logs and leader election.
func (c Config) validateEndpoints(p *problems) {
	bad := p.bad
	if u, err := url.Parse(c.PrometheusURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("PROMETHEUS_URL", "want an http(s) URL, got %q", c.PrometheusURL)
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		bad("LOG_FORMAT", "want json or console, got %q", c.LogFormat)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", "want debug, info, warn or error, got %q", c.LogLevel)
	}
	switch strings.ToLower(c.LeaderElect) {
	case "", "true", "false":
	default:
		bad("LEADER_ELECT", "want true or false, got %q", c.LeaderElect)
	}
}

// validateCapacity checks the workers, the client rate limits and the bounds
// of queries, gates and unready canaries.
func (c Config) validateCapacity(p *problems) {
	bad := p.bad
	if c.Workers < 1 {
		bad("WORKERS", "want at least 1, got %d", c.Workers)
	}
	if c.KubeQPS <= 0 || c.KubeBurst < 1 {
		bad("KUBE_QPS", "want a positive QPS and burst, got %v and %d", c.KubeQPS, c.KubeBurst)
	}
	if c.RollbackQPS <= 0 || c.RollbackBurst < 1 {
		bad("ROLLBACK_QPS", "want a positive QPS and ROLLBACK_BURST, got %v and %d", c.RollbackQPS, c.RollbackBurst)
	}
	if c.RollbackWorkers < 1 || c.WebhookWorkers < 1 {
		bad("ROLLBACK_WORKERS", "want at least 1 and WEBHOOK_WORKERS at least 1, got %d and %d", c.RollbackWorkers, c.WebhookWorkers)
	}
	if c.QueryTimeout <= 0 || c.MaxQueries < 1 {
		bad("QUERY_TIMEOUT", "want a positive timeout and at least 1 concurrent query")
	}
	if c.UnreadyLimit <= 0 {
		bad("CANARY_UNREADY_LIMIT", "want a positive duration, got %s", c.UnreadyLimit)
	}
	if c.GateTimeout != 0 && c.GateTimeout < c.QueryTimeout {
		bad("GATE_TIMEOUT", "want at least QUERY_TIMEOUT (%s), got %s", c.QueryTimeout, c.GateTimeout)
	}
}

// validateLoops checks the judge and the sampler, the leader Lease's timing
// and the notifications' queue.
func (c Config) validateLoops(p *problems) {
	bad := p.bad
	switch strings.ToLower(c.Judge) {
	case "on", "off":
	default:
		bad("JUDGE", "want on or off, got %q", c.Judge)
	}
	if c.SampleInterval < time.Second {
		bad("SAMPLE_INTERVAL", "want at least 1s, got %s", c.SampleInterval)
	}
	if c.StandingRefresh < 0 {
		bad("STANDING_REFRESH", "want a duration (0 to keep the standing out of the status), got %s", c.StandingRefresh)
	}
	if _, err := analysis.ParseStatusLabels(c.StatusLabels); err != nil {
		bad("STATUS_LABELS", "%v", err)
	}
	if c.RenewDeadline >= c.LeaseDuration || c.RetryPeriod >= c.RenewDeadline {
		bad("LEASE_DURATION", "want LEASE_DURATION > RENEW_DEADLINE > RETRY_PERIOD, got %s, %s, %s",
			c.LeaseDuration, c.RenewDeadline, c.RetryPeriod)
	}
	if c.NotifyTimeout <= 0 || c.NotifyQueueSize < 1 {
		bad("NOTIFY_TIMEOUT", "want a positive timeout and NOTIFY_QUEUE_SIZE of at least 1, got %s and %d",
			c.NotifyTimeout, c.NotifyQueueSize)
	}
}

// JudgeOptions returns the statistical judge's options when ROLLOUTD_JUDGE is on,
// else nil (plain thresholds decide every check).
func (c Config) JudgeOptions() *analysis.JudgeOptions {
	if !strings.EqualFold(c.Judge, "on") {
		return nil
	}
	return &analysis.JudgeOptions{}
}

// StatusLabelsBySource returns the response-status label per metric source set
// by ROLLOUTD_STATUS_LABELS (validated by Validate, so a bad value is already
// reported at start).
func (c Config) StatusLabelsBySource() map[contract.Source]string {
	m, _ := analysis.ParseStatusLabels(c.StatusLabels)
	return m
}

// InCluster reports whether the daemon runs in a pod.
func InCluster() bool { return os.Getenv("KUBERNETES_SERVICE_HOST") != "" }

// LeaderElection reports whether to elect a leader: ROLLOUTD_LEADER_ELECT when set,
// else true in cluster and false out of cluster.
func (c Config) LeaderElection() bool {
	if c.LeaderElect == "" {
		return InCluster()
	}
	return strings.EqualFold(c.LeaderElect, "true")
}

// Namespace returns the namespace of the lease: ROLLOUTD_LEASE_NAMESPACE, else the
// pod's own namespace in cluster, else "default".
func (c Config) Namespace() string {
	if c.LeaseNamespace != "" {
		return c.LeaseNamespace
	}
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
		return strings.TrimSpace(string(b))
	}
	return "default"
}
