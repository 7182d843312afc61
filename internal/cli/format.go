package cli

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// age renders a duration as kubectl does: 45s, 12m, 3h, 2d.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// checksSummary is "3/4 Pass" plus the worst verdict's colour; "-" without checks.
func checksSummary(checks []contract.CheckResult) cell {
	if len(checks) == 0 {
		return cell{text: "-"}
	}
	counts := map[contract.Verdict]int{}
	for _, c := range checks {
		counts[c.Verdict]++
	}
	text := fmt.Sprintf("%d/%d Pass", counts[contract.Pass], len(checks))
	col := green
	if n := counts[contract.Inconclusive]; n > 0 {
		text += fmt.Sprintf(", %d Inconclusive", n)
		col = yellow
	}
	if n := len(checks) - counts[contract.Pass] - counts[contract.Inconclusive]; n > 0 {
		text += fmt.Sprintf(", %d Fail", n)
		col = red
	}
	return cell{text: text, color: col}
}

// stepText is "2/5", or "-" before rolloutd has counted the steps.
func stepText(st contract.Status) string {
	if st.Steps == 0 {
		return "-"
	}
	if st.Batch != nil {
		return fmt.Sprintf("batch %d/%d", st.Step, st.Steps)
	}
	return fmt.Sprintf("%d/%d", st.Step, st.Steps)
}

// batchPods is the pod split of a batch release: "7 old, 3 new (of 10)".
func batchPods(b *contract.BatchStatus) string {
	return fmt.Sprintf("%d old, %d new (of %d)", b.Stable, b.Canary, b.Desired)
}

// shownRevision is the revision a row is about: the one under release, else the
// stable one.
func shownRevision(st contract.Status) string {
	if st.Revision != "" {
		return st.Revision
	}
	if st.StableRevision != "" {
		return st.StableRevision
	}
	return "-"
}

func phaseText(p contract.Phase) string {
	if p == "" {
		return "Unknown"
	}
	return string(p)
}

// value renders a check's measurement compactly; large values get an SI suffix.
func value(v *float64) string {
	if v == nil {
		return "-"
	}
	x := *v
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return fmt.Sprint(x)
	case math.Abs(x) >= 1e9:
		return trimFloat(x/1e9) + "G"
	case math.Abs(x) >= 1e6:
		return trimFloat(x/1e6) + "M"
	case math.Abs(x) >= 1e4:
		return trimFloat(x/1e3) + "k"
	}
	return trimFloat(x)
}

func trimFloat(x float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%.4g", x), ".0")
}

// progressBar draws the steps: done steps filled, the current one marked, e.g.
// "[■■▶□□] 10 20 [30] 40 50" for step 3 of weights 10..50.
func progressBar(st contract.Status, weights []int) string {
	n := st.Steps
	if n == 0 {
		n = len(weights)
	}
	if n == 0 {
		return "-"
	}
	var bar strings.Builder
	bar.WriteString("[")
	for i := 1; i <= n; i++ {
		switch {
		case st.Phase == contract.Succeeded || st.Phase == contract.Promoting || i < st.Step:
			bar.WriteString("■")
		case i == st.Step && st.Phase.Active():
			bar.WriteString("▶")
		default:
			bar.WriteString("□")
		}
	}
	bar.WriteString("]")
	if len(weights) != n {
		return bar.String()
	}
	for i, w := range weights {
		if i+1 == st.Step && st.Phase.Active() && st.Phase != contract.Promoting {
			fmt.Fprintf(&bar, " [%d%%]", w)
		} else {
			fmt.Fprintf(&bar, " %d%%", w)
		}
	}
	return bar.String()
}
