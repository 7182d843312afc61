package analysis

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// DefaultStatusLabels name the label carrying the response status in each
// source's request metric, as the ecosystem's exporters write it. An application
// whose own metric labels it otherwise (status, status_code) sets its name with
// Options.StatusLabels (ROLLOUTD_STATUS_LABELS).
var DefaultStatusLabels = map[contract.Source]string{
	contract.SourceNginx:   "status",
	contract.SourceIstio:   "response_code",
	contract.SourceService: "code",
}

// labelNameRe is a classic Prometheus label name: the status label is written
// into "sum by (...)" unquoted, so nothing else may pass.
var labelNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// ParseStatusLabels reads "source=label,..." (e.g. "service=status_code") into
// the labels to use per source; sources not named keep their default.
func ParseStatusLabels(s string) (map[contract.Source]string, error) {
	out := map[contract.Source]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		src, label, ok := strings.Cut(part, "=")
		src, label = strings.TrimSpace(src), strings.TrimSpace(label)
		if _, known := DefaultStatusLabels[contract.Source(src)]; !ok || !known {
			return nil, fmt.Errorf("%q: want source=label with source nginx, istio or service", part)
		}
		if !labelNameRe.MatchString(label) || strings.HasPrefix(label, "__") {
			return nil, fmt.Errorf("%q: %q is not a label name", part, label)
		}
		out[contract.Source(src)] = label
	}
	return out, nil
}

// statusLabel is the status label t's request metric is read by.
func (t Target) statusLabel() string {
	if t.StatusLabel != "" {
		return t.StatusLabel
	}
	return DefaultStatusLabels[t.Source]
}

// statusCounts are one side's requests in a window split by response status.
type statusCounts struct {
	total      float64 // every request
	errors     float64 // status 5xx
	unlabelled float64 // requests whose series carries no status label
}

// isServerError reports a 5xx status value.
func isServerError(v string) bool {
	return len(v) == 3 && v[0] == '5' && v[1] >= '0' && v[1] <= '9' && v[2] >= '0' && v[2] <= '9'
}

// countStatuses adds up the series of a statuses query. A NaN or infinite count
// is an error: it must never read as zero errors.
func countStatuses(vec model.Vector, label string) (statusCounts, error) {
	var c statusCounts
	for _, s := range vec {
		v := float64(s.Value)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return statusCounts{}, fmt.Errorf("%v in the request count", v)
		}
		c.total += v
		switch st := string(s.Metric[model.LabelName(label)]); {
		case st == "":
			c.unlabelled += v
		case isServerError(st):
			c.errors += v
		}
	}
	return c, nil
}

// readStatuses reads a statuses query; no series means no request was seen.
func readStatuses(ctx context.Context, ev *evaluation, q, label, what string) (statusCounts, error) {
	vec, err := ev.get(ctx, q)
	if err != nil {
		return statusCounts{}, fmt.Errorf("query failed: %s: %w", what, err)
	}
	c, err := countStatuses(vec, label)
	if err != nil {
		return statusCounts{}, fmt.Errorf("%s: %w", what, err)
	}
	return c, nil
}

// errorShare is the 5xx share of c. Requests without the status label make it
// unknowable: that fails, naming the label, instead of counting them as successes.
func (c statusCounts) errorShare(label, what string) (float64, error) {
	if c.total <= 0 {
		return 0, fmt.Errorf("no requests on %s in the window, so no error rate", what)
	}
	if c.unlabelled > 0 {
		return 0, fmt.Errorf("%s of %s requests on %s carry no %q label, so their errors cannot be counted "+
			"(set the label the metric uses with ROLLOUTD_STATUS_LABELS)", sig(c.unlabelled), sig(c.total), what, label)
	}
	return c.errors / c.total, nil
}

// statusSamples turns a statuses range query into per-step error shares, sorted,
// dropping steps without requests. Steps with unlabelled requests fail as above.
func statusSamples(m model.Matrix, label, what string) ([]float64, error) {
	byTS := map[model.Time]*statusCounts{}
	for _, s := range m {
		st := string(s.Metric[model.LabelName(label)])
		for _, p := range s.Values {
			c := byTS[p.Timestamp]
			if c == nil {
				c = &statusCounts{}
				byTS[p.Timestamp] = c
			}
			v := float64(p.Value)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s: %v in the request count", what, v)
			}
			c.total += v
			if st == "" {
				c.unlabelled += v
			} else if isServerError(st) {
				c.errors += v
			}
		}
	}
	var out []float64
	for _, c := range byTS {
		if c.total <= 0 {
			continue
		}
		share, err := c.errorShare(label, what)
		if err != nil {
			return nil, err
		}
		out = append(out, share)
	}
	sort.Float64s(out)
	return out, nil
}
