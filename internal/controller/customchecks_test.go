package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func analysisConfigMap(data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web-analysis", Namespace: ns}, Data: data}
}

func TestGateAppendsTheChecksOfTheAnalysisConfigMap(t *testing.T) {
	h := atWeight10(t, contract.KeyAnalysis, "web-analysis", contract.KeyChecks, "cpu<=1.3x")
	_, err := h.kube.CoreV1().ConfigMaps(ns).Create(h.ctx, analysisConfigMap(map[string]string{
		"queue-depth": "query: sum(queue_depth{namespace=\"{{.Namespace}}\"})\nmax: 100",
	}), metav1.CreateOptions{})
	require.NoError(t, err)

	h.clock.SetTime(t0.Add(time.Minute))
	h.sync()

	require.Equal(t, 1, h.eval.calls())
	assert.Equal(t, []string{"cpu", "queue-depth"}, h.eval.checks[0])
	st := h.status()
	assert.Equal(t, 2, st.Step, "a passing gate with the custom check advances")
	assert.Len(t, st.Checks, 2)
}

func TestUnusableAnalysisConfigMapFailsTheGateAndWarns(t *testing.T) {
	for name, cm := range map[string]*corev1.ConfigMap{
		"missing":         nil,
		"invalid bound":   analysisConfigMap(map[string]string{"queue-depth": "query: sum(q)\nmax: lots"}),
		"unknown var":     analysisConfigMap(map[string]string{"queue-depth": "query: sum(q{ns=\"{{.Nope}}\"})\nmax: 1"}),
		"holds no checks": analysisConfigMap(nil),
	} {
		t.Run(name, func(t *testing.T) {
			h := atWeight10(t, contract.KeyAnalysis, "web-analysis", contract.KeyChecks, "cpu<=1.3x")
			if cm != nil {
				_, err := h.kube.CoreV1().ConfigMaps(ns).Create(h.ctx, cm, metav1.CreateOptions{})
				require.NoError(t, err)
			}

			h.clock.SetTime(t0.Add(time.Minute))
			h.sync()

			st := h.status()
			assert.Equal(t, 1, st.Step, "the gate failed, so the step holds")
			assert.Equal(t, 1, st.Failures)
			assert.Contains(t, st.Message, "ConfigMap shop/web-analysis")
			var bad *contract.CheckResult
			for i := range st.Checks {
				if st.Checks[i].Name == contract.KeyAnalysis {
					bad = &st.Checks[i]
				}
			}
			require.NotNil(t, bad, "the status names the ConfigMap as a failed check: %+v", st.Checks)
			assert.Equal(t, contract.Fail, bad.Verdict)
			events := h.events()
			assert.Contains(t, events, "Warning "+ReasonInvalidAnalysis+" "+bad.Reason)
		})
	}
}
