package alerts

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"
)

// Version is the only webhook payload version understood.
const Version = "4"

// Labels that name the Deployment an alert is about.
const (
	LabelNamespace          = "namespace"
	LabelDeployment         = "deployment"
	LabelRolloutdDeployment = "rolloutd_deployment"
)

// Message is Alertmanager's webhook payload. It mirrors notify/webhook.Message,
// which is not imported because that package pulls in every notifier.
type Message struct {
	*amtemplate.Data

	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

// validate rejects a payload this receiver does not understand.
func (m *Message) validate() error {
	if m.Version != Version {
		return fmt.Errorf("payload version %q, want %q", m.Version, Version)
	}
	if m.Data == nil {
		return errors.New("payload without alerts")
	}
	return nil
}

// Target names the Deployment an alert is about.
type Target struct {
	Namespace  string
	Deployment string
}

func (t Target) String() string { return t.Namespace + "/" + t.Deployment }

// targetOf maps an alert to a Deployment by its labels: namespace plus deployment,
// or plus rolloutd_deployment (for rules whose deployment label means something
// else). ok is false when the labels name none.
func targetOf(labels map[string]string) (Target, bool) {
	ns := labels[LabelNamespace]
	name := labels[LabelRolloutdDeployment]
	if name == "" {
		name = labels[LabelDeployment]
	}
	if ns == "" || name == "" {
		return Target{}, false
	}
	return Target{Namespace: ns, Deployment: name}, true
}

// markOf builds the mark of a firing alert. Alertmanager always sends a
// fingerprint; one computed from the labels stands in when a sender does not.
func markOf(a amtemplate.Alert) Mark {
	fp := a.Fingerprint
	if fp == "" {
		fp = model.LabelSet(toLabelSet(a.Labels)).Fingerprint().String()
	}
	startsAt := a.StartsAt
	if startsAt.IsZero() {
		startsAt = time.Unix(0, 0).UTC()
	}
	return Mark{Name: a.Labels["alertname"], Fingerprint: fp, StartsAt: startsAt.UTC(), Labels: map[string]string(a.Labels)}
}

func toLabelSet(kv amtemplate.KV) model.LabelSet {
	ls := make(model.LabelSet, len(kv))
	for k, v := range kv {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// dedupeKey identifies one firing of one alert for one Deployment: an alert that
// resolves and fires again has a new startsAt and is acted on again.
func dedupeKey(t Target, m Mark) string {
	return strings.Join([]string{t.String(), m.Fingerprint, m.StartsAt.Format(time.RFC3339Nano)}, "|")
}

// summary renders labels for logs, sorted.
func summary(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ",")
}
