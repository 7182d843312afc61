package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Renderer turns an Event into a channel's request body.
type Renderer func(Event) ([]byte, error)

// renderers by channel name.
var renderers = map[string]Renderer{Slack: SlackPayload, Teams: TeamsPayload, Webhook: WebhookPayload}

// WebhookPayload is the generic JSON body.
func WebhookPayload(e Event) ([]byte, error) {
	checks := e.Checks
	if checks == nil {
		checks = []contract.CheckResult{}
	}
	return marshal(struct {
		Kind       Kind                   `json:"kind"`
		Deployment string                 `json:"deployment"`
		Namespace  string                 `json:"namespace"`
		Revision   string                 `json:"revision"`
		Phase      string                 `json:"phase"`
		Reason     string                 `json:"reason"`
		Message    string                 `json:"message"`
		Checks     []contract.CheckResult `json:"checks"`
		Time       time.Time              `json:"time"`
	}{e.Kind, e.Deployment, e.Namespace, e.Revision, e.Phase, e.Reason, e.Message, checks, e.Time.UTC()})
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

// SlackPayload is a Slack incoming-webhook message: a plain text fallback for
// notifications and Block Kit blocks for the channel.
func SlackPayload(e Event) ([]byte, error) {
	md := func(s string) slackText { return slackText{Type: "mrkdwn", Text: s} }
	blocks := []slackBlock{
		{Type: "header", Text: &slackText{Type: "plain_text", Text: e.title()}},
		{Type: "section", Text: ptr(md(e.Message)), Fields: []slackText{
			md("*Namespace*\n" + e.Namespace), md("*Deployment*\n" + e.Deployment),
			md("*Revision*\n" + e.Revision), md("*Phase*\n" + e.Phase),
		}},
	}
	if f := e.failed(); e.Kind == RolledBack && len(f) > 0 {
		blocks = append(blocks, slackBlock{Type: "section", Text: ptr(md("*Failing checks*\n" + checkLines(f, "• ")))})
	}
	blocks = append(blocks, slackBlock{Type: "context", Elements: []slackText{md("reason `" + e.Reason + "` · " + e.Time.UTC().Format(time.RFC3339))}})
	return marshal(struct {
		Text   string       `json:"text"`
		Blocks []slackBlock `json:"blocks"`
	}{e.title() + ": " + e.Message, blocks})
}

type teamsFact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TeamsPayload is a Microsoft Teams incoming-webhook MessageCard.
func TeamsPayload(e Event) ([]byte, error) {
	facts := []teamsFact{{"Namespace", e.Namespace}, {"Deployment", e.Deployment}, {"Revision", e.Revision},
		{"Phase", e.Phase}, {"Reason", e.Reason}}
	if f := e.failed(); e.Kind == RolledBack && len(f) > 0 {
		facts = append(facts, teamsFact{"Failing checks", checkLines(f, "")})
	}
	return marshal(map[string]any{
		"@type":      "MessageCard",
		"@context":   "https://schema.org/extensions",
		"themeColor": color(e.Kind),
		"summary":    e.title(),
		"title":      e.title(),
		"text":       e.Message,
		"sections":   []map[string]any{{"facts": facts}},
	})
}

func color(k Kind) string {
	switch k {
	case Promoted:
		return "2EB886"
	case RolledBack:
		return "D00000"
	case AwaitingApproval:
		return "DAA038"
	}
	return "439FE0"
}

// checkLines renders checks one per line: name, value, baseline and reason.
func checkLines(cs []contract.CheckResult, bullet string) string {
	lines := make([]string, 0, len(cs))
	for _, c := range cs {
		l := bullet + c.Name + " " + string(c.Verdict)
		if c.Value != nil {
			l += fmt.Sprintf(" value=%g", *c.Value)
		}
		if c.Baseline != nil {
			l += fmt.Sprintf(" baseline=%g", *c.Baseline)
		}
		if c.Reason != "" {
			l += ": " + c.Reason
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// marshal encodes without HTML escaping, so check names such as "cpu<=1.3x" stay
// readable in every receiver.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("notify: encode payload: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func ptr[T any](v T) *T { return &v }
