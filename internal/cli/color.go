package cli

import (
	"strings"

	"github.com/rolloutd/rolloutd/strategy/contract"
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

func phaseColor(p contract.Phase) color {
	switch p {
	case contract.Succeeded:
		return green
	case contract.Progressing, contract.Promoting:
		return cyan
	case contract.Paused, contract.PendingConfirmation:
		return yellow
	case contract.RollingBack, contract.RolledBack, contract.Aborted:
		return red
	}
	return none
}

func verdictColor(v contract.Verdict) color {
	switch v {
	case contract.Pass:
		return green
	case contract.Fail:
		return red
	case contract.Inconclusive:
		return yellow
	}
	return none
}
