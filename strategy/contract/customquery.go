package contract

import "text/template"

// CustomQuery is a user's PromQL check, read from a rolloutd.io/analysis
// ConfigMap by ParseCustomChecks. Its query is a text/template rendered once per
// side with the variables of docs/analysis.md; it must return one sample (or, with
// "expect: empty", nothing at all to pass).
type CustomQuery struct {
	Name  string  // the check's name in status and Events
	Query string  // the template text
	Floor float64 // ratio checks: the smallest stable value multiplied

	// Template is the parsed query, set by ParseCustomChecks.
	Template *template.Template
}
