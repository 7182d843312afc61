package notify

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func rolledBack() Event {
	v, b := 0.103, 0.002
	return Event{Kind: RolledBack, Namespace: "shop", Deployment: "web", Revision: "7c9f6d", Phase: "RollingBack",
		Reason: "GateFailed", Message: "rolling back: gate at 10% failed 3 times: error-rate<=1%+baseline",
		Checks: []contract.CheckResult{
			{Name: "error-rate<=1%+baseline", Value: &v, Baseline: &b, Verdict: contract.Fail, Reason: "0.103 > 0.002 + 0.01"},
			{Name: "cpu<=1.3x", Value: &b, Baseline: &b, Verdict: contract.Pass},
		},
		Time: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)}
}

func promoted() Event {
	return Event{Kind: Promoted, Namespace: "shop", Deployment: "web", Revision: "7c9f6d", Phase: "Succeeded",
		Reason: "Promoted", Message: "revision 7c9f6d promoted", Time: time.Date(2026, 11, 27, 9, 40, 0, 0, time.UTC)}
}

func TestPayloadsMatchGoldenFiles(t *testing.T) {
	events := map[string]Event{"rolledback": rolledBack(), "promoted": promoted()}
	for channel, render := range renderers {
		for name, e := range events {
			t.Run(channel+"-"+name, func(t *testing.T) {
				got, err := render(e)
				require.NoError(t, err)
				var pretty bytes.Buffer
				require.NoError(t, json.Indent(&pretty, got, "", "  "))
				pretty.WriteByte('\n')
				path := filepath.Join("testdata", channel+"-"+name+".golden.json")
				if *update {
					require.NoError(t, os.WriteFile(path, pretty.Bytes(), 0o644))
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err, "run with -update to create it")
				assert.Equal(t, string(want), pretty.String())
			})
		}
	}
}

func TestWebhookPayloadCarriesTheContractFields(t *testing.T) {
	b, err := WebhookPayload(rolledBack())
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))
	for _, k := range []string{"deployment", "namespace", "revision", "phase", "reason", "message", "checks"} {
		assert.Contains(t, got, k)
	}
	assert.Len(t, got["checks"], 2)
}

func TestRollbackPayloadsNameTheFailingCheckOnly(t *testing.T) {
	for channel, render := range renderers {
		b, err := render(rolledBack())
		require.NoError(t, err)
		assert.Contains(t, string(b), "0.103 > 0.002 + 0.01", channel)
		if channel != Webhook {
			assert.NotContains(t, string(b), "cpu<=1.3x", channel+" lists only failing checks")
		}
	}
}
