package contract

import (
	"slices"
	"strings"
)

// NotifyChannels are the channel names rolloutd.io/notify accepts.
var NotifyChannels = []string{"slack", "teams", "webhook"}

// notify parses rolloutd.io/notify: "none", or a comma list of channels.
func (p *parser) notify() []string {
	v, ok := p.get(KeyNotify)
	if !ok {
		return nil
	}
	if strings.TrimSpace(v) == "none" {
		return []string{}
	}
	var out []string
	for _, f := range strings.Split(v, ",") {
		c := strings.TrimSpace(f)
		if !slices.Contains(NotifyChannels, c) {
			p.fail(KeyNotify, v, `"none" or comma-separated channels from slack, teams, webhook, e.g. "slack,webhook"`, nil)
			return nil
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}
