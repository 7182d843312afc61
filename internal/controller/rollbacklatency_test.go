package controller

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func TestRollbackLatencyIsObservedOnceAfterTheTrafficZeroWrite(t *testing.T) {
	failGate := func(h *harness) {
		h.eval.verdict = contract.Fail
		h.clock.SetTime(t0.Add(time.Hour))
	}
	fireAlert := func(h *harness) {
		h.clock.SetTime(t0.Add(20 * time.Second))
		h.markAlert(t0.Add(15 * time.Second))
	}
	cases := []struct {
		name           string
		threshold      string
		evidence       func(h *harness)
		gates, alerts  uint64
		deletesIngress bool
	}{
		{"failed gate that rolls back", "0", failGate, 1, 0, true},
		{"failed gate still tolerated", "2", failGate, 0, 0, false},
		{"firing alert", "2", fireAlert, 0, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := atWeight10(t, contract.KeyThreshold, tc.threshold)
			var atDelete []uint64
			h.kube.PrependReactor("delete", "ingresses", func(k8stesting.Action) (bool, runtime.Object, error) {
				atDelete = append(atDelete, h.latencyCount(causeGate)+h.latencyCount(causeAlert))
				return false, nil, nil
			})
			tc.evidence(h)
			h.sync()
			h.sync() // finishing the rollback is not observed again

			assert.Equal(t, tc.gates, h.latencyCount(causeGate))
			assert.Equal(t, tc.alerts, h.latencyCount(causeAlert))
			if !tc.deletesIngress {
				assert.Empty(t, atDelete)
				return
			}
			require.NotEmpty(t, atDelete, "the canary Ingress was deleted")
			assert.Zero(t, atDelete[0], "observed only once the traffic-0 write returned")
		})
	}
}

// latencyCount is how many rolloutd_rollback_latency_seconds observations the
// cause has.
func (h *harness) latencyCount(cause string) uint64 {
	h.t.Helper()
	var m dto.Metric
	require.NoError(h.t, h.ctl.Metrics.RollbackLatency.WithLabelValues(cause).(prometheus.Histogram).Write(&m))
	return m.GetHistogram().GetSampleCount()
}
