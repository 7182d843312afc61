package analysis

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"sigs.k8s.io/yaml"
)

// customSpec is the YAML document stored under one ConfigMap key.
type customSpec struct {
	Query  string   `json:"query"`
	Max    string   `json:"max"`
	Floor  *float64 `json:"floor"`
	Expect string   `json:"expect"`
}

// customName is what a ConfigMap key must look like to name a check.
var customName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ParseCustomChecks validates the data of a rolloutd.io/analysis ConfigMap and
// returns its checks sorted by name. Each key names a check; each value is YAML:
//
//	query: <PromQL template>   # required
//	max: 1.2x | 0.5 | 0.01+baseline
//	floor: 0.001               # optional, ratio bounds only
//	expect: empty              # instead of max: passes only when nothing is returned
//
// Every bad key is reported, joined in one error wrapping ErrInvalidCheck.
func ParseCustomChecks(data map[string]string) ([]contract.Check, error) {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var checks []contract.Check
	var errs []error
	for _, k := range keys {
		c, err := parseCustom(k, data[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: custom check %q: %v", contract.ErrInvalidCheck, k, err))
			continue
		}
		checks = append(checks, c)
	}
	if len(checks) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%w: the ConfigMap holds no checks", contract.ErrInvalidCheck))
	}
	return checks, errors.Join(errs...)
}

// parseCustom validates one ConfigMap entry.
func parseCustom(name, doc string) (contract.Check, error) {
	if !customName.MatchString(name) {
		return contract.Check{}, errors.New("name must be lower-case letters, digits and '-', at most 63 characters")
	}
	if isBuiltin(name) {
		return contract.Check{}, errors.New("name is taken by a built-in check")
	}
	var spec customSpec
	if err := yaml.UnmarshalStrict([]byte(doc), &spec); err != nil {
		return contract.Check{}, fmt.Errorf("want YAML with query and max (or expect: empty): %w", err)
	}
	c, err := spec.check(name)
	if err != nil {
		return contract.Check{}, err
	}
	c.Custom.Template, err = parseQueryTemplate(name, spec.Query)
	return c, err
}

// check turns the spec's bound into a Check.
func (s customSpec) check(name string) (contract.Check, error) {
	c := contract.Check{Custom: &contract.CustomQuery{Name: name, Query: strings.TrimSpace(s.Query)}}
	switch {
	case c.Custom.Query == "":
		return contract.Check{}, errors.New("query is empty")
	case s.Expect != "" && s.Expect != "empty":
		return contract.Check{}, fmt.Errorf("expect %q: the only accepted value is \"empty\"", s.Expect)
	case s.Expect == "empty" && s.Max != "":
		return contract.Check{}, errors.New("give either max or expect: empty, not both")
	case s.Expect == "empty":
		c.Mode = contract.NoneFiring
		return c, nil
	}
	bound := strings.Join(strings.Fields(s.Max), "")
	if b, ok := strings.CutSuffix(bound, "+baseline"); ok {
		c.Mode, bound = contract.BaselinePlus, b
	} else if f, ok := contract.ParseFactor(bound); ok {
		c.Mode, c.Bound = contract.Ratio, f
	}
	if c.Mode != contract.Ratio {
		v, err := contract.ParseNonNegative(bound)
		if err != nil {
			return contract.Check{}, fmt.Errorf("max %q must be a factor like 1.2x, a number like 0.5, or a number plus baseline like 0.01+baseline", s.Max)
		}
		c.Bound = v
	}
	if s.Floor != nil {
		if c.Mode != contract.Ratio || *s.Floor < 0 {
			return contract.Check{}, errors.New("floor applies to ratio bounds (max: 1.2x) and must be >= 0")
		}
		c.Custom.Floor = *s.Floor
	}
	return c, nil
}

// parseQueryTemplate parses a custom query and renders it for a sample target, so
// an unknown variable or a broken template is reported when the ConfigMap is read
// rather than at the first gate.
func parseQueryTemplate(name, text string) (*template.Template, error) {
	tmpl, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("query template: %w", err)
	}
	sample := Target{Namespace: "ns", Deployment: "app", Canary: "app-canary", Service: "app",
		Ingress: "app", Source: contract.SourceService, Window: time.Minute}
	for _, s := range []side{canarySide, stableSide} {
		q, err := render(tmpl, name, newVars(sample, s))
		if err != nil {
			return nil, fmt.Errorf("query template: %w", err)
		}
		if strings.TrimSpace(q) == "" {
			return nil, errors.New("query renders to nothing")
		}
	}
	return tmpl, nil
}

// isBuiltin reports whether name is a built-in check's name.
func isBuiltin(name string) bool {
	switch contract.Metric(name) {
	case contract.MetricErrorRate, contract.MetricCPU, contract.MetricMemory, contract.MetricLoad, contract.MetricAlerts, contract.MetricMemoryGrowth:
		return true
	}
	return strings.HasPrefix(name, "latency-")
}

// customPlan renders a custom check's query for the canary and, for baseline
// bounds, for the stable side.
func customPlan(t Target, c contract.Check) (plan, error) {
	p := plan{check: c}
	q := c.Custom
	if q.Template == nil {
		return p, fmt.Errorf("custom check %s was not built by ParseCustomChecks", q.Name)
	}
	var err error
	p.canary, err = render(q.Template, q.Template.Name(), newVars(t, canarySide))
	if err == nil && (c.Mode == contract.Ratio || c.Mode == contract.BaselinePlus) {
		p.stable, err = render(q.Template, q.Template.Name(), newVars(t, stableSide))
	}
	return p, err
}
