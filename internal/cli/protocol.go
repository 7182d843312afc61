package cli

import (
	"fmt"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// sameRequest reports whether two commands ask for the same thing, whoever sent them.
func sameRequest(a, b contract.Command) bool {
	a.By, b.By = "", ""
	return a == b
}

// describe renders a command for messages: "undo to revision 3 (by alice)".
func describe(c contract.Command) string {
	s := string(c.Verb)
	switch {
	case c.Verb == contract.Undo:
		s += fmt.Sprintf(" to revision %d", c.Revision)
		if c.Now {
			s += " --now"
		}
	case c.Full:
		s += " --full"
		if c.SkipAnalysis {
			s += " --skip-analysis"
		}
	}
	if c.By != "" {
		s += " by " + c.By
	}
	return s
}
