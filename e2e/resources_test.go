//go:build e2e

package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// cpuBound is the simulator's pod annotations for a CPU-bound service: 20m idle
// plus perRequest core-seconds for each request a pod serves.
func cpuBound(perRequest string) map[string]string {
	return map[string]string{"sim.rolloutd.io/cpu": "0.02", "sim.rolloutd.io/cpu-per-request": perRequest}
}

// Given a CPU-bound service (20m idle and 10m core-seconds per request per pod)
// on 10 stable pods behind an Ingress at 200 requests/s, with steps up to 50% and
// the default checks, the canary's pods serve 20 requests/s each while the
// stable's serve 18 down to 10: per pod, a healthy canary uses up to 1.8x the
// stable's CPU by its share of traffic alone. When a release keeps the cost per
// request, then it is promoted; when it costs 50% more CPU per request, then
// cpu fails and it is rolled back before promotion.
func TestCPUIsComparedForTheSameWork(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		perReq  string
		want    contract.Phase
		verdict contract.Verdict
	}{
		{"same cost per request is promoted", "0.01", contract.Succeeded, contract.Pass},
		{"50% more CPU per request is rolled back", "0.015", contract.RolledBack, contract.Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, ns := watchedScenario(t)
			a := app{name: "web", replicas: 10, router: "nginx", rps: 200, podAnn: cpuBound("0.01"),
				annotations: map[string]string{"rolloutd.io/steps": "10,20,30,40,50", "rolloutd.io/interval": "20s"}}
			a.create(t, env.Kube, ns)
			phases := watchPhases(t, env.Kube, ns, a.name)

			release(t, env.Kube, ns, a.name, "example.com/web:v2", cpuBound(tc.perReq))

			st, c := settledWith(t, env.Kube, ns, a.name, tc.want, "cpu", tc.verdict)
			require.NotNil(t, c.Value)
			require.NotNil(t, c.Baseline)
			t.Logf("cpu: %s", c.Reason)
			if tc.want == contract.RolledBack {
				assert.Contains(t, st.Message, "cpu: ")
				assert.NotContains(t, phases.seen(), contract.Promoting)
				requireNoCanaryObjects(t, env.Kube, ns, a.name)
			}
		})
	}
}

// Given the same CPU-bound service on 10 stable pods at 200 requests/s, with one
// step of 12% and an interval of 2m, the canary's 2 pods serve 12 requests/s each
// and the stable's 17.6, and the stable's traffic has barely varied since the app
// started, so its idle part cannot be told from its cost per request. The plain
// per-pod comparison then cannot see a canary that costs 50% more per request
// (0.2 cores against the stable's 0.196: its pods serve less). When the release
// keeps the cost per request, then the step advances before its interval ends;
// when it costs 50% more, then the step is not cut short on that comparison: it
// runs its whole interval (or cpu fails, if the fit is told after all).
func TestCPUWithoutTheStablesFitNeverAdvancesEarly(t *testing.T) {
	t.Parallel()
	const interval = 2 * time.Minute
	for _, tc := range []struct {
		name   string
		perReq string
		early  bool
	}{
		{"same cost per request advances early", "0.01", true},
		{"50% more CPU per request runs its interval", "0.015", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, ns := watchedScenario(t)
			a := app{name: "web", replicas: 10, router: "nginx", rps: 200,
				podAnn: cpuBound("0.01"),
				annotations: map[string]string{"rolloutd.io/steps": "12", "rolloutd.io/interval": interval.String(),
					"rolloutd.io/checks": "error-rate<=1%+baseline, cpu<=1.3x"}}
			a.create(t, env.Kube, ns)
			weights := watchCanaryWeightTimes(t, env, ns, a.name)

			release(t, env.Kube, ns, a.name, "example.com/web:v2", cpuBound(tc.perReq))

			st := waitPhase(t, env.Kube, ns, a.name, 2*rolloutTimeout, contract.Succeeded, contract.RolledBack)
			c := findCheck(st.Checks, "cpu")
			require.NotNil(t, c, "status checks %+v", st.Checks)
			t.Logf("%s: %s; cpu: %s", st.Phase, st.Message, c.Reason)
			held := weights.heldAt(12)
			require.NotZero(t, held, "the canary got 12%% of the traffic")
			t.Logf("weight 12 held for %s (interval %s)", held, interval)
			if tc.early {
				require.Equal(t, contract.Succeeded, st.Phase, "message: %s", st.Message)
				assert.Less(t, held, interval, "the step advanced before its interval ended")
				return
			}
			if st.Phase == contract.RolledBack {
				assert.Equal(t, contract.Fail, c.Verdict, "rolled back by cpu: %s", c.Reason)
				return
			}
			assert.GreaterOrEqual(t, held, interval-5*time.Second,
				"a cpu verdict made without the stable's fit (%s) must not cut the step short", c.Reason)
		})
	}
}

// Given the same CPU-bound service on 10 stable pods at 200 requests/s, with
// steps of 20% and 50%, an interval of 5m and no failed gate tolerated, when a
// release costs three times the CPU per request (its pods use 0.62 cores where
// the stable's 0.18 scaled to the canary's traffic allow 0.29), then cpu fails
// in the continuous judgement and the canary loses its traffic well before the
// step's gate: before, the ratio cpu check was decided at the gate only, so the
// canary kept 20% for the whole 5 minutes.
func TestCPURegressionLosesItsTrafficBeforeTheStepsGate(t *testing.T) {
	t.Parallel()
	const interval = 5 * time.Minute
	env, ns := watchedScenario(t)
	a := app{name: "web", replicas: 10, router: "nginx", rps: 200, podAnn: cpuBound("0.01"),
		annotations: map[string]string{"rolloutd.io/steps": "20,50", "rolloutd.io/interval": interval.String(),
			"rolloutd.io/threshold": "0", "rolloutd.io/checks": "error-rate<=1%+baseline, cpu<=1.3x"}}
	a.create(t, env.Kube, ns)
	weights := watchCanaryWeightTimes(t, env, ns, a.name)

	release(t, env.Kube, ns, a.name, "example.com/web:v2", cpuBound("0.03"))

	st, c := settledWith(t, env.Kube, ns, a.name, contract.RolledBack, "cpu", contract.Fail)
	t.Logf("cpu: %s", c.Reason)
	assert.Contains(t, c.Reason, "anytime-valid", "failed by the continuous judgement")
	assert.Equal(t, contract.ReasonCheckFailed, st.Reason, "message: %s", st.Message)
	on, off := weights.firstOnThenOff()
	require.False(t, on.IsZero() || off.IsZero(), "the canary got traffic and lost it")
	t.Logf("canary traffic from first weight to 0: %s (interval %s)", off.Sub(on), interval)
	assert.Less(t, off.Sub(on), interval/2, "the canary lost its traffic long before the step's gate")
}

// Given an opted-in Deployment behind an Ingress at 200 requests/s with the
// default checks, when a release leaks 5% of its 128Mi working set a minute,
// then memory-growth fails and it is rolled back before promotion, long before
// the level check memory<=1.3x could see it (6 minutes); a release whose working
// set stays flat is promoted.
func TestMemoryGrowthCatchesALeakTheLevelCheckMisses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		podAnn  map[string]string
		want    contract.Phase
		verdict contract.Verdict
	}{
		{"leak of 5% a minute is rolled back", map[string]string{"sim.rolloutd.io/memory-growth": "6.4Mi"}, contract.RolledBack, contract.Fail},
		{"flat working set is promoted", nil, contract.Succeeded, contract.Pass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, ns := watchedScenario(t)
			a := app{name: "web", replicas: 3, router: "nginx", rps: 200,
				annotations: map[string]string{"rolloutd.io/interval": "30s"}}
			a.create(t, env.Kube, ns)
			phases := watchPhases(t, env.Kube, ns, a.name)

			release(t, env.Kube, ns, a.name, "example.com/web:v2", tc.podAnn)

			st, _ := settledWith(t, env.Kube, ns, a.name, tc.want, "memory-growth", tc.verdict)
			if tc.want == contract.RolledBack {
				assert.Contains(t, st.Message, "memory-growth: ")
				assert.NotContains(t, phases.seen(), contract.Promoting)
				m := findCheck(st.Checks, "memory")
				require.NotNil(t, m)
				assert.Equal(t, contract.Pass, m.Verdict, "the level check alone would not have caught it: %s", m.Reason)
			}
		})
	}
}

// settledWith waits for the rollout to succeed or roll back, requires the phase
// want, and asserts the named check's verdict in the final status.
func settledWith(t *testing.T, kube kubernetes.Interface, ns, name string, want contract.Phase, check string, verdict contract.Verdict) (contract.Status, *contract.CheckResult) {
	t.Helper()
	st := waitPhase(t, kube, ns, name, 2*rolloutTimeout, contract.Succeeded, contract.RolledBack)
	require.Equal(t, want, st.Phase, "message: %s, checks: %+v", st.Message, st.Checks)
	t.Logf("%s: %s", st.Phase, st.Message)
	c := findCheck(st.Checks, check)
	require.NotNil(t, c, "status checks %+v", st.Checks)
	assert.Equal(t, verdict, c.Verdict, "reason: %s", c.Reason)
	return st, c
}
