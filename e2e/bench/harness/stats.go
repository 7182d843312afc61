package harness

import (
	"fmt"
	"slices"
	"time"
)

// Stats are order statistics of a sample of durations.
type Stats struct {
	N             int
	P50, P99, Max time.Duration
	Mean          time.Duration
}

// Summarise computes the statistics of ds (nearest rank).
func Summarise(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.999999) - 1
		return s[max(i, 0)]
	}
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Stats{N: len(s), P50: at(0.50), P99: at(0.99), Max: s[len(s)-1], Mean: sum / time.Duration(len(s))}
}

// Row renders the statistics as a markdown table row after the name.
func (s Stats) Row(name string) string {
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return fmt.Sprintf("| %-44s | %4d | %9s | %9s | %9s |", name, s.N, r(s.P50), r(s.P99), r(s.Max))
}
