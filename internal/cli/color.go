package cli

import (
	"strings"

	"github.com/rolloutd/rolloutd/analysis"
	"github.com/rolloutd/rolloutd/internal/status"
)

// color is an ANSI SGR colour code; none leaves text alone.
type color string

const (
	none   color = ""
	red    color = "31"
	green  color = "32"
	yellow color = "33"
	cyan   color = "36"
	faint  color = "2"
)

// palette colours text only on a terminal.
type palette struct{ on bool }

// paint wraps text in c, keeping trailing padding outside the escape codes.
func (p palette) paint(c color, text string) string {
	if !p.on || c == none {
		return text
	}
	body := strings.TrimRight(text, " ")
	return "\x1b[" + string(c) + "m" + body + "\x1b[0m" + text[len(body):]
}

func phaseColor(p status.Phase) color {
	switch p {
	case status.Succeeded:
		return green
	case status.Progressing, status.Promoting:
		return cyan
	case status.Paused, status.PendingConfirmation:
		return yellow
	case status.RollingBack, status.RolledBack, status.Aborted:
		return red
	}
	return none
}

func verdictColor(v analysis.Verdict) color {
	switch v {
	case analysis.Pass:
		return green
	case analysis.Fail:
		return red
	case analysis.Inconclusive:
		return yellow
	}
	return none
}
