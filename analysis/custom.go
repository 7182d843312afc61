package analysis

import (
	"fmt"
	"text/template"
)

// CustomQuery is a user's PromQL check, read from a rolloutd.io/analysis
// ConfigMap by ParseCustomChecks. Its query is a text/template rendered once per
// side with the variables of docs/analysis.md; it must return one sample.
type CustomQuery struct {
	Name  string  // the check's name in status and Events
	Query string  // the template text
	Floor float64 // ratio checks: the smallest stable value multiplied

	tmpl *template.Template
}

// customPlan renders a custom check's query for the canary and, unless the bound
// is absolute, for the stable side.
func customPlan(t Target, c Check) (plan, error) {
	p := plan{check: c}
	q := c.Custom
	if q.tmpl == nil {
		return p, fmt.Errorf("custom check %s was not parsed", q.Name)
	}
	var err error
	p.canary, err = render(q.tmpl, q.tmpl.Name(), newVars(t, canarySide))
	if err == nil && c.Mode != Absolute && c.Mode != NoneFiring {
		p.stable, err = render(q.tmpl, q.tmpl.Name(), newVars(t, stableSide))
	}
	return p, err
}
