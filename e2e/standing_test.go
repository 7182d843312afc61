//go:build e2e

package e2e

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// canaryRequests finds the canary's request counts in the error-rate figures
// of the continuous standing, as `rolloutctl get -w` prints them.
var canaryRequests = regexp.MustCompile(`canary [^ ]+ in \[[^\]]*\] from (\d+) requests`)

// Given a canary step of 5 minutes at 200 requests/s, no early advance, and a
// standing refresh of 10s, when a healthy version is released, then `rolloutctl
// get web -w` shows the continuous judge's standing while the step waits for
// its gate, and shows it again as the evidence grows: its frames carry at
// least three different request counts of the canary, all before the gate.
func TestGetWatchFollowsTheContinuousStanding(t *testing.T) {
	t.Parallel()
	env := framework.Get(t)
	ns := env.Namespace(t)
	env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns}, Env: map[string]string{"ROLLOUTD_STANDING_REFRESH": "10s"}})
	a := app{name: "web", replicas: 3, router: "nginx", rps: 200, annotations: map[string]string{
		"rolloutd.io/steps": "20", "rolloutd.io/interval": "5m", "rolloutd.io/adaptive": "false",
		"rolloutd.io/checks": "error-rate<=1%+baseline"}}
	a.create(t, env.Kube, ns)
	op := newOperator(t, env, ns)
	var frames syncBuffer
	_, stop := op.background(&frames, "get", a.name, "-w")

	release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)

	seen := map[string]bool{}
	framework.Eventually(t, 2*time.Minute, "get -w shows the standing growing", func() (bool, error) {
		for _, m := range canaryRequests.FindAllStringSubmatch(frames.String(), -1) {
			seen[m[1]] = true
		}
		return len(seen) >= 3, nil
	})
	stop()
	t.Logf("canary request counts shown: %v", seen)
	assert.Contains(t, frames.String(), "Judged continuously")
	st, _ := readStatus(t, env.Kube, ns, a.name)
	require.Equal(t, contract.Progressing, st.Phase, "all before the step's gate: %s", st.Message)
	require.NotNil(t, st.Standing, "the status holds the standing")
	require.NotEmpty(t, st.Standing.Checks)
	assert.Equal(t, "error-rate", st.Standing.Checks[0].Name)
	assert.Contains(t, st.Standing.Checks[0].Reason, "anytime-valid")
}
