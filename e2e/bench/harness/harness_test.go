package harness

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/internal/alerts"
	"github.com/rolloutd/rolloutd/router"
)

func TestSummariseTakesNearestRanks(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	cases := []struct {
		name string
		in   []time.Duration
		want Stats
	}{
		{"empty", nil, Stats{}},
		{"one", ms(7), Stats{N: 1, P50: 7 * time.Millisecond, P99: 7 * time.Millisecond, Max: 7 * time.Millisecond, Mean: 7 * time.Millisecond}},
		{"unsorted four", ms(40, 10, 30, 20), Stats{N: 4, P50: 20 * time.Millisecond, P99: 40 * time.Millisecond, Max: 40 * time.Millisecond, Mean: 25 * time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, Summarise(tc.in)) })
	}
}

func TestTrafficWatchRecordsOnlyTheLossOfAPositiveWeight(t *testing.T) {
	canary := func(weight string) *networkingv1.Ingress {
		return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "app0001-canary",
			Annotations: map[string]string{router.AnnCanaryWeight: weight}}}
	}
	type event struct {
		ing     *networkingv1.Ingress
		deleted bool
	}
	cases := []struct {
		name   string
		events []event
		zero   bool
	}{
		{"created at 0 before the canary is Ready", []event{{canary("0"), false}}, false},
		{"weight set to 0", []event{{canary("0"), false}, {canary("50"), false}, {canary("0"), false}}, true},
		{"canary Ingress deleted", []event{{canary("50"), false}, {canary("50"), true}}, true},
		{"released again after a rollback", []event{{canary("50"), true}, {canary("50"), false}}, false},
		{"the user's Ingress is not a canary", []event{{&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "app0001"}}, true}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := &TrafficWatch{live: map[string]bool{}, zero: map[string]time.Time{}}
			for _, e := range tc.events {
				w.seen(e.ing, e.deleted)
			}
			_, zero := w.ZeroAt("app0001")
			assert.Equal(t, tc.zero, zero)
		})
	}
}

func TestAlertPayloadDecodesAsAlertmanagerVersion4(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	b, err := AlertPayload([]Alert{{"ns1", "app0000", "f1"}, {"ns1", "app0001", "f2"}}, now)
	require.NoError(t, err)
	var m alerts.Message
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, alerts.Version, m.Version)
	require.Len(t, m.Alerts, 2)
	assert.Equal(t, "app0001", m.Alerts[1].Labels[alerts.LabelDeployment])
	assert.Equal(t, "ns1", m.Alerts[1].Labels[alerts.LabelNamespace])
	assert.Equal(t, "f2", m.Alerts[1].Fingerprint)
	assert.True(t, m.Alerts[1].StartsAt.Equal(now))
	assert.Equal(t, "firing", m.Alerts[1].Status)
}
