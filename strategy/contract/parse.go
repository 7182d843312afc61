package contract

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rolloutd/rolloutd/traffic"
)

// Defaults of the contract's opt-in table.
const (
	DefaultSteps           = "10,20,30,40,50"
	DefaultInterval        = time.Minute
	DefaultThreshold       = 2
	DefaultBatches         = "25%,50%,100%"
	DefaultRollbackWindow  = 30 * time.Minute
	DefaultRevisionHistory = 10
)

// InvalidError names one annotation whose value was rejected and the accepted form.
type InvalidError struct {
	Key      string
	Value    string
	Accepted string
	Cause    error
}

// Problems lists the problems of a Parse error, one per rejected annotation (Parse
// joins them); nil for nil.
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (e *InvalidError) Error() string {
	msg := fmt.Sprintf("annotation %s=%q is invalid: accepted: %s", e.Key, e.Value, e.Accepted)
	if e.Cause != nil {
		msg += " (" + e.Cause.Error() + ")"
	}
	return msg
}

func (e *InvalidError) Unwrap() error { return e.Cause }

// Enabled reports whether the annotations opt the Deployment in.
func Enabled(ann map[string]string) bool { return ann[KeyEnabled] == "true" }

// Parse validates every rolloutd.io annotation of a Deployment named name. All
// problems are reported together (errors.Join of *InvalidError), never just the first.
func Parse(name string, ann map[string]string) (Spec, error) {
	p := parser{ann: ann}
	s := Spec{
		Enabled:         p.enabled(),
		Strategy:        Strategy(p.oneOf(KeyStrategy, string(Canary), "canary, bluegreen, abtest, batch", "canary", "bluegreen", "abtest", "batch")),
		Router:          Router(p.oneOf(KeyRouter, string(RouterService), "nginx, istio, gateway, service", "nginx", "istio", "gateway", "service")),
		Ingress:         p.name(KeyIngress, name),
		Service:         p.name(KeyService, name),
		Steps:           p.steps(),
		Interval:        p.duration(KeyInterval, DefaultInterval),
		Threshold:       p.count(KeyThreshold, DefaultThreshold, 0, 100),
		Analysis:        p.optionalName(KeyAnalysis),
		PauseAt:         p.pauseAt(),
		Match:           p.match(),
		MirrorPercent:   p.percent(KeyMirror),
		Sticky:          p.boolean(KeySticky, false),
		Batches:         p.batches(),
		MaxSurge:        p.quantity(KeyMaxSurge, Quantity{Value: 25, Percent: true}),
		MaxUnavailable:  p.quantity(KeyMaxUnavailable, Quantity{}),
		RollingOrder:    RollingOrder(p.oneOf(KeyRollingOrder, string(CreateFirst), "create-first, delete-first", "create-first", "delete-first")),
		ConfirmManual:   p.oneOf(KeyConfirm, "manual", "manual, auto", "manual", "auto") == "manual",
		AlertRollback:   p.boolean(KeyAlertRollback, true),
		AlertSelector:   p.selector(),
		RollbackWindow:  p.duration(KeyRollbackWindow, DefaultRollbackWindow),
		RevisionHistory: p.count(KeyRevisionHistory, DefaultRevisionHistory, 1, 1000),
		Notify:          p.notify(),
		Adaptive:        p.boolean(KeyAdaptive, true),
		MetricSource:    Source(p.oneOf(KeyMetricSource, "", "service or istio", "service", "istio")),
	}
	s.Checks = p.checks(s.Strategy)
	s.RouteKind, s.Route = p.route(name)
	if _, given := p.get(KeyMatch); s.Strategy == ABTest && !given {
		p.fail(KeyMatch, "", "header:NAME=VALUE, header:NAME~REGEX or cookie:NAME (required by strategy abtest)", nil)
	}
	if v, _ := p.get(KeyMirror); s.MirrorPercent > 0 && s.Router != RouterIstio && s.Router != RouterGateway {
		p.fail(KeyMirror, v, "a percentage from 0 to 100 together with rolloutd.io/router: istio or gateway (only they mirror requests)", nil)
	}
	if v, _ := p.get(KeyMetricSource); s.MetricSource != "" && s.Router != RouterGateway {
		p.fail(KeyMetricSource, v, "service or istio together with rolloutd.io/router: gateway (the other routers read their own metrics)", nil)
	}
	p.batchRules(s)
	p.blueGreenRules(s)
	return s, errors.Join(p.errs...)
}

type parser struct {
	ann  map[string]string
	errs []error
}

func (p *parser) fail(key, value, accepted string, cause error) {
	p.errs = append(p.errs, &InvalidError{Key: key, Value: value, Accepted: accepted, Cause: cause})
}

func (p *parser) get(key string) (string, bool) {
	v, ok := p.ann[key]
	return strings.TrimSpace(v), ok && strings.TrimSpace(v) != ""
}

func (p *parser) enabled() bool {
	v, ok := p.ann[KeyEnabled]
	if ok && v != "true" && v != "false" {
		p.fail(KeyEnabled, v, `"true" or "false"`, nil)
	}
	return v == "true"
}

func (p *parser) oneOf(key, def, accepted string, allowed ...string) string {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(key, v, accepted, nil)
	return def
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func (p *parser) name(key, def string) string {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	if len(v) > 63 || !dnsLabel.MatchString(v) {
		p.fail(key, v, "a Kubernetes object name (lowercase letters, digits, '-')", nil)
		return def
	}
	return v
}

func (p *parser) optionalName(key string) string {
	if _, ok := p.get(key); !ok {
		return ""
	}
	return p.name(key, "")
}

func (p *parser) boolean(key string, def bool) bool {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(key, v, `"true" or "false"`, nil)
		return def
	}
	return b
}

func (p *parser) duration(key string, def time.Duration) time.Duration {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		p.fail(key, v, "a positive Go duration such as 30s, 1m or 1h30m", nil)
		return def
	}
	return d
}

func (p *parser) count(key string, def, lo, hi int) int {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(key, v, fmt.Sprintf("a whole number from %d to %d", lo, hi), nil)
		return def
	}
	return n
}

func (p *parser) percent(key string) int {
	v, ok := p.get(key)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v, "%"))
	if err != nil || n < 0 || n > 100 {
		p.fail(key, v, "a percentage from 0 to 100, e.g. 10", nil)
		return 0
	}
	return n
}

func (p *parser) steps() []int {
	v, ok := p.get(KeySteps)
	if !ok {
		v = DefaultSteps
	}
	const accepted = `increasing weights in percent from 1 to 100, comma-separated, e.g. "5,10,25,50"`
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(f), "%"))
		if err != nil || n < 1 || n > 100 || (len(out) > 0 && n <= out[len(out)-1]) {
			p.fail(KeySteps, v, accepted, nil)
			return mustInts(DefaultSteps)
		}
		out = append(out, n)
	}
	return out
}

func mustInts(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

// checks parses rolloutd.io/checks; its default depends on the strategy
// (DefaultChecks, DefaultGateChecks).
func (p *parser) checks(st Strategy) []Check {
	v, ok := p.get(KeyChecks)
	if !ok {
		v = DefaultChecks
		if st != Canary {
			v = DefaultGateChecks
		}
	}
	cs, err := ParseChecks(v)
	if err != nil {
		p.fail(KeyChecks, v, "comma-separated checks such as error-rate<=1%+baseline, latency-p99<=500ms, cpu<=1.3x, memory<=256Mi, load<=1.5x, alerts", err)
		return nil
	}
	return cs
}

func (p *parser) pauseAt() PauseAt {
	v, ok := p.get(KeyPauseAt)
	if !ok {
		return PauseAt{}
	}
	if v == "*" {
		return PauseAt{All: true}
	}
	out := PauseAt{Values: map[int]bool{}}
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(f), "%"))
		if err != nil || n < 1 || n > 100 {
			p.fail(KeyPauseAt, v, `"*" or comma-separated steps (weights, or batch numbers for batch), e.g. "20,50"`, nil)
			return PauseAt{}
		}
		out.Values[n] = true
	}
	return out
}

var headerRule = regexp.MustCompile(`^header:([A-Za-z0-9-]+)(=|~)(.+)$`)
var cookieRule = regexp.MustCompile(`^cookie:([A-Za-z0-9_.-]+)$`)

func (p *parser) match() *traffic.Match {
	v, ok := p.get(KeyMatch)
	if !ok {
		return nil
	}
	if m := headerRule.FindStringSubmatch(v); m != nil {
		rx := m[2] == "~"
		if rx {
			if _, err := regexp.Compile(m[3]); err != nil {
				p.fail(KeyMatch, v, "header:NAME~REGEX with a valid regular expression", err)
				return nil
			}
		}
		return &traffic.Match{Kind: traffic.MatchHeader, Name: m[1], Value: m[3], Regex: rx}
	}
	if m := cookieRule.FindStringSubmatch(v); m != nil {
		return &traffic.Match{Kind: traffic.MatchCookie, Name: m[1]}
	}
	p.fail(KeyMatch, v, "header:NAME=VALUE, header:NAME~REGEX or cookie:NAME", nil)
	return nil
}

func parseQuantity(s string) (Quantity, bool) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
	if err != nil || n < 0 || (pct && n > 100) {
		return Quantity{}, false
	}
	return Quantity{Value: n, Percent: pct}, true
}

func (p *parser) quantity(key string, def Quantity) Quantity {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	q, good := parseQuantity(v)
	if !good {
		p.fail(key, v, `a pod count such as "1" or a percentage such as "25%"`, nil)
		return def
	}
	return q
}

func (p *parser) batches() []Quantity {
	v, ok := p.get(KeyBatches)
	if !ok {
		v = DefaultBatches
	}
	var out []Quantity
	for _, f := range strings.Split(v, ",") {
		q, good := parseQuantity(f)
		if !good || (q.Value == 0) {
			p.fail(KeyBatches, v, `comma-separated replica counts or percentages, e.g. "1,25%,50%,100%"`, nil)
			return nil
		}
		out = append(out, q)
	}
	return out
}

var matcher = regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)=(.*)$`)

func (p *parser) selector() map[string]string {
	v, ok := p.get(KeyAlertSelector)
	if !ok {
		return nil
	}
	out := map[string]string{}
	for _, f := range strings.Split(v, ",") {
		m := matcher.FindStringSubmatch(strings.TrimSpace(f))
		if m == nil {
			p.fail(KeyAlertSelector, v, `comma-separated label matchers, e.g. "severity=critical,team=web"`, nil)
			return nil
		}
		out[m[1]] = strings.Trim(m[2], `"`)
	}
	return out
}
