//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/internal/controller"
	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given the user's HTTPRoute naming a listener its Gateway does not have (the
// Gateway reports it Accepted=False), when a version is released, then no
// canary starts and the Warning Event quotes the Gateway's condition.
func TestGatewayRouteNotAcceptedStopsTheRelease(t *testing.T) {
	t.Parallel()
	env, ns, gw := gatewayScenario(t)
	a := app{name: "nacc", replicas: 2, rps: 100}
	gatewayApp(t, env, gw, ns, a)
	patchRoute(t, gw, ns, a.name, types.MergePatchType, `{"spec":{"parentRefs":[{"name":"edge","sectionName":"https"}]}}`)
	waitRouteCondition(t, gw, ns, a.name, "Accepted", metav1.ConditionFalse)

	release(t, env.Kube, ns, a.name, "example.com/nacc:v2", nil)

	want := "Accepted=False (NoMatchingParent): gateway " + ns + "/edge has no listener"
	requireEventMessage(t, env, ns, a.name, contract.ReasonRoutingBroken, want)
	st, _ := readStatus(t, env.Kube, ns, a.name)
	assert.Contains(t, st.Message, "cannot start a canary")
	assert.Contains(t, st.Message, want)
	_, err := env.Kube.AppsV1().Deployments(ns).Get(context.Background(), a.name+"-canary", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "no canary was started (%v)", err)
}

// Given a canary at its first step through router gateway, when the user adds
// a rule to the route that sends to a Service that does not exist (the Gateway
// reports ResolvedRefs=False), then the live release is rolled back with the
// condition's message, and the route ends as the user now wrote it.
func TestGatewayResolvedRefsFalseRollsBackALiveRelease(t *testing.T) {
	t.Parallel()
	env, ns, gw := gatewayScenario(t)
	a := app{name: "refs", replicas: 2, rps: 100, annotations: map[string]string{"rolloutd.io/interval": "1m"}}
	written := gatewayApp(t, env, gw, ns, a)

	release(t, env.Kube, ns, a.name, "example.com/refs:v2", nil)
	waitRouteWeight(t, gw, ns, a.name, 10)
	patchRoute(t, gw, ns, a.name, types.JSONPatchType,
		`[{"op":"add","path":"/spec/rules/-","value":{"matches":[{"path":{"type":"PathPrefix","value":"/gone"}}],"backendRefs":[{"name":"gone","port":80}]}}]`)

	st := requireEnds(t, env.Kube, ns, a.name, 45*time.Second, contract.RolledBack)
	want := "ResolvedRefs=False (BackendNotFound): service " + ns + "/gone not found"
	assert.Contains(t, st.Message, want)
	requireEventMessage(t, env, ns, a.name, contract.ReasonRoutingBroken, want)
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	got, err := gw.GatewayV1().HTTPRoutes(ns).Get(context.Background(), a.name, metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, got.Spec.Rules, 3, "the user's added rule is kept")
	assert.Equal(t, written.Spec.Rules, got.Spec.Rules[:2], "the user's rules as written")
	assert.Equal(t, "gone", string(got.Spec.Rules[2].BackendRefs[0].Name))
	assert.NotContains(t, got.Annotations, contract.RulesAnnotation)
}

// routeRepairWithin bounds how long a scenario waits for a hand edit of the
// user's HTTPRoute to be repaired. rolloutd watches the route and repairs it on
// the edit's event (50-600 ms on a busy sandbox, logged per edit); with routes
// watchable there is no periodic look at them, so a repair that does not come from
// the event does not come before the 10-minute resync and fails the scenario. The
// bound itself is generous: the figure is reported, not asserted.
const routeRepairWithin = repairTimeout

// Given a canary at its first step through router gateway, when someone writes
// the route back as it is in Git (the split gone), four times over, then
// rolloutd repairs the split each time from the route's event,
// without waiting for the next step, and says so in a Warning Drift Event.
func TestGatewayRouteEditedByHandMidRolloutIsRepaired(t *testing.T) {
	t.Parallel()
	env, ns, gw := gatewayScenario(t)
	a := app{name: "drift", replicas: 2, rps: 100, annotations: map[string]string{"rolloutd.io/interval": "10m"}}
	written := gatewayApp(t, env, gw, ns, a)

	release(t, env.Kube, ns, a.name, "example.com/drift:v2", nil)
	waitRouteWeight(t, gw, ns, a.name, 10)
	rules, err := json.Marshal(written.Spec.Rules)
	require.NoError(t, err)
	for i := range 4 {
		edited, err := gw.GatewayV1().HTTPRoutes(ns).Patch(context.Background(), a.name, types.JSONPatchType,
			[]byte(`[{"op":"replace","path":"/spec/rules","value":`+string(rules)+`}]`), metav1.PatchOptions{})
		require.NoError(t, err)
		_, split := router.GatewayCanaryWeight(edited.Spec.Rules, a.name, a.name+"-canary")
		require.False(t, split, "edit %d took the split out", i+1)
		start := time.Now()
		framework.Eventually(t, routeRepairWithin, fmt.Sprintf("edit %d repaired", i+1), func() (bool, error) {
			r, err := gw.GatewayV1().HTTPRoutes(ns).Get(context.Background(), a.name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			w, ok := router.GatewayCanaryWeight(r.Spec.Rules, a.name, a.name+"-canary")
			return ok && w == 10, fmt.Errorf("weight %d (split %t)", w, ok)
		})
		t.Logf("edit %d repaired after %s", i+1, time.Since(start).Round(time.Millisecond))
	}
	st, _ := readStatus(t, env.Kube, ns, a.name)
	assert.Equal(t, 10, st.Weight, "repaired within the step, not by the next one")
	assert.Equal(t, contract.Progressing, st.Phase)
	requireEventMessage(t, env, ns, a.name, controller.ReasonDrift, "HTTPRoute "+ns+"/"+a.name+": spec.rules changed outside rolloutd")
}

// Given a canary at its first step through router gateway, when the user opts
// out, then the HTTPRoute is byte-for-byte as written: the same spec, no
// annotation and no rolloutd field manager left.
func TestGatewayOptOutLeavesTheRouteAsWritten(t *testing.T) {
	t.Parallel()
	env, ns, gw := gatewayScenario(t)
	a := app{name: "optg", replicas: 2, rps: 100, annotations: map[string]string{"rolloutd.io/interval": "1m", "rolloutd.io/sticky": "true"}}
	written := gatewayApp(t, env, gw, ns, a)

	release(t, env.Kube, ns, a.name, "example.com/optg:v2", nil)
	waitRouteWeight(t, gw, ns, a.name, 10)
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{"rolloutd.io/enabled": nil}}})
	_, err := env.Kube.AppsV1().Deployments(ns).Patch(context.Background(), a.name, types.MergePatchType, patch, metav1.PatchOptions{})
	require.NoError(t, err)

	requireRouteAsWritten(t, gw, written)
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	got, err := gw.GatewayV1().HTTPRoutes(ns).Get(context.Background(), a.name, metav1.GetOptions{})
	require.NoError(t, err)
	want, _ := json.Marshal(written.Spec)
	have, _ := json.Marshal(got.Spec)
	assert.Equal(t, string(want), string(have), "the spec, byte for byte")
}

func patchRoute(t *testing.T, gw gwclient.Interface, ns, name string, pt types.PatchType, patch string) {
	t.Helper()
	_, err := gw.GatewayV1().HTTPRoutes(ns).Patch(context.Background(), name, pt, []byte(patch), metav1.PatchOptions{})
	require.NoError(t, err)
}

func waitRouteCondition(t *testing.T, gw gwclient.Interface, ns, name, typ string, want metav1.ConditionStatus) {
	t.Helper()
	framework.Eventually(t, 30*time.Second, fmt.Sprintf("HTTPRoute %s %s=%s", name, typ, want), func() (bool, error) {
		r, err := gw.GatewayV1().HTTPRoutes(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return routeCondition(r, typ) == want, nil
	})
}

// waitRouteWeight waits until the route gives the canary weight percent.
func waitRouteWeight(t *testing.T, gw gwclient.Interface, ns, name string, weight int) {
	t.Helper()
	framework.Eventually(t, rolloutTimeout, fmt.Sprintf("HTTPRoute %s at canary weight %d", name, weight), func() (bool, error) {
		r, err := gw.GatewayV1().HTTPRoutes(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		w, ok := router.GatewayCanaryWeight(r.Spec.Rules, name, name+"-canary")
		return ok && w == weight, fmt.Errorf("weight %d (split %t)", w, ok)
	})
}

// requireEventMessage waits for an Event on the Deployment with the reason and
// a message containing want.
func requireEventMessage(t *testing.T, env *framework.Env, ns, name, reason, want string) {
	t.Helper()
	framework.Eventually(t, time.Minute, fmt.Sprintf("a %s Event saying %q", reason, want), func() (bool, error) {
		list, err := env.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
			FieldSelector: fields.Set{"involvedObject.kind": "Deployment", "involvedObject.name": name}.String()})
		if err != nil {
			return false, err
		}
		for _, ev := range list.Items {
			if ev.Reason == reason && ev.Type == corev1.EventTypeWarning && strings.Contains(ev.Message, want) {
				return true, nil
			}
		}
		return false, nil
	})
}
