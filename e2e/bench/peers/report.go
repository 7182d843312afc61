package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// releaseFigures are one tool's release scenarios.
type releaseFigures struct {
	badTuned, badDefaults badResult
	healthy               healthyResult
	promDown              string
}

// toolFigures is everything measured of one tool.
type toolFigures struct {
	name, version string
	rel           releaseFigures
	ranReleases   bool
	sizes         []sizeFigures
}

// cell is one tool's figure in a row; v is what the ratio divides.
type cell struct {
	v    float64
	text string
	ok   bool
}

// row is one line of the table: the same figure for both tools.
type row struct {
	figure string
	a, b   cell
}

// ratio is a.v / b.v, or "—" where either is missing or b is zero.
func (r row) ratio() string {
	if !r.a.ok || !r.b.ok || r.b.v == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", r.a.v/r.b.v)
}

func durationCell(d time.Duration, ok bool, outcome string) cell {
	if !ok {
		return cell{text: "not reached (" + outcome + ")"}
	}
	return cell{v: d.Seconds(), text: fmt.Sprintf("%.1f s (%s)", d.Seconds(), outcome), ok: true}
}

func numberCell(v float64, format string) cell {
	return cell{v: v, text: fmt.Sprintf(format, v), ok: true}
}

// releaseRows are the release scenarios of a and b.
func releaseRows(a, b releaseFigures) []row {
	bad := func(label string, x, y badResult) []row {
		return []row{
			{"bad release (30% errors), " + label + ": template change → canary weight 0",
				durationCell(x.zero, x.ok, x.outcome), durationCell(y.zero, y.ok, y.outcome)},
			{"bad release, " + label + ": failed requests the canary served (of all it served)",
				failedCell(x.canary), failedCell(y.canary)},
		}
	}
	rows := bad(tuned.name, a.badTuned, b.badTuned)
	rows = append(rows, bad("each tool's defaults", a.badDefaults, b.badDefaults)...)
	rows = append(rows,
		row{"healthy release, " + tuned.name + ": template change → all traffic on the new version",
			durationCell(a.healthy.full, a.healthy.ok, a.healthy.outcome), durationCell(b.healthy.full, b.healthy.ok, b.healthy.outcome)},
		row{"Prometheus down during a rollout (times from the moment it went down)",
			cell{text: a.promDown}, cell{text: b.promDown}})
	return rows
}

func failedCell(c canaryCounts) cell {
	return cell{v: c.failed, text: fmt.Sprintf("%.0f (of %.0f)", c.failed, c.total), ok: true}
}

// scaleRows pair the sizes by position; a size one tool did not take over
// in time shows how many it had.
func scaleRows(a, b []sizeFigures, others int, bound time.Duration) []row {
	var rows []row
	for i := range max(len(a), len(b)) {
		x, _ := sizeAt(a, i)
		y, _ := sizeAt(b, i)
		at := fmt.Sprintf("%d canaries + %d other Deployments", max(x.canaries, y.canaries), others)
		pair := func(what, format string, get func(sizeFigures) float64) row {
			return row{at + ": " + what, sizeCell(x, bound, format, get), sizeCell(y, bound, format, get)}
		}
		rows = append(rows,
			row{at + ": taken over (first app enrolled → every one ready)", takeoverCell(x, bound), takeoverCell(y, bound)},
			pair("idle RSS MiB", "%.1f", func(s sizeFigures) float64 { return s.idle.rss }),
			pair("peak RSS MiB (rolling)", "%.1f", func(s sizeFigures) float64 { return s.rollin.peakRSS }),
			pair("CPU s/min idle", "%.2f", func(s sizeFigures) float64 { return s.idle.cpuPerMin }),
			pair("CPU s/min rolling", "%.2f", func(s sizeFigures) float64 { return s.rollin.cpuPerMin }),
			pair("API requests/min idle", "%.0f", func(s sizeFigures) float64 { return s.idle.apiPerMin }),
			pair("API requests/min rolling", "%.0f", func(s sizeFigures) float64 { return s.rollin.apiPerMin }),
			pair("Prometheus queries/min idle", "%.0f", func(s sizeFigures) float64 { return s.idle.queriesPerMin }),
			pair("Prometheus queries/min rolling", "%.0f", func(s sizeFigures) float64 { return s.rollin.queriesPerMin }),
			row{at + ": rolling window (release of all → every rollout ended)", rollCell(x, bound), rollCell(y, bound)},
		)
	}
	return rows
}

func sizeAt(s []sizeFigures, i int) (sizeFigures, bool) {
	if i < len(s) {
		return s[i], true
	}
	return sizeFigures{}, false
}

// notMeasured says why a size has no figures.
func notMeasured(s sizeFigures, bound time.Duration) string {
	if s.canaries == 0 {
		return "not measured"
	}
	return fmt.Sprintf("not measured: %d of %d taken over within %s", s.reached, s.canaries, bound)
}

func takeoverCell(s sizeFigures, bound time.Duration) cell {
	if !s.measured {
		return cell{text: notMeasured(s, bound)}
	}
	return cell{v: s.takeover.Seconds(), text: fmt.Sprintf("%.0f s", s.takeover.Seconds()), ok: true}
}

func sizeCell(s sizeFigures, bound time.Duration, format string, get func(sizeFigures) float64) cell {
	if !s.measured {
		return cell{text: notMeasured(s, bound)}
	}
	return numberCell(get(s), format)
}

func rollCell(s sizeFigures, bound time.Duration) cell {
	if !s.measured {
		return cell{text: notMeasured(s, bound)}
	}
	u := s.rollin
	return cell{v: u.minutes * 60, text: fmt.Sprintf("%.0f s (%d/%d ended)", u.minutes*60, u.settled, u.rolling), ok: u.settled == u.rolling}
}

// renderTable writes the rows as a markdown table, a then b then a ÷ b.
func renderTable(w io.Writer, a, b string, rows []row) {
	fmt.Fprintf(w, "| figure | %s | %s | ratio %s ÷ %s |\n|---|---|---|---|\n", a, b, a, b)
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.figure, esc(r.a.text), esc(r.b.text), r.ratio())
	}
}

func esc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// sample is one observation of a rollout during the Prometheus outage.
type sample struct {
	at     time.Time
	phase  string
	weight int // -1: no canary Ingress
}

// timeline renders the changes of phase and canary weight from down on, and
// when Prometheus came back.
func timeline(samples []sample, down, up time.Time) string {
	var parts []string
	last := sample{phase: "\x00"}
	upShown := false
	for _, s := range samples {
		if !upShown && !s.at.Before(up) {
			parts = append(parts, fmt.Sprintf("+%ds Prometheus back", int(up.Sub(down).Round(time.Second).Seconds())))
			upShown = true
		}
		if s.phase == last.phase && s.weight == last.weight {
			continue
		}
		w := fmt.Sprintf("weight %d", s.weight)
		if s.weight < 0 {
			w = "no canary Ingress"
		}
		parts = append(parts, fmt.Sprintf("%+ds %s, %s", int(s.at.Sub(down).Round(time.Second).Seconds()), s.phase, w))
		last = s
	}
	if !upShown {
		parts = append(parts, fmt.Sprintf("+%ds Prometheus back", int(up.Sub(down).Round(time.Second).Seconds())))
	}
	return strings.Join(parts, "; ")
}
