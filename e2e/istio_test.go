//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/yaml"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/e2e/sim"
	"github.com/rolloutd/rolloutd/router"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given an opted-in Deployment with router istio and no VirtualService, when a
// healthy version is released, then rolloutd creates the VirtualService and walks
// its canary weight through every step (weights always adding to 100), promotes,
// and deletes the VirtualService and DestinationRule it generated.
func TestIstioCanaryGoodReleaseIsPromoted(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := app{name: "web", replicas: 3, router: "istio", rps: 200}
	a.create(t, env.Kube, ns)
	vs := watchVirtualService(t, env, ns, a.name)

	release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)

	requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded)
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	requireNoIstioObjects(t, env, ns, a.name)
	weights, bad := vs.weights()
	assert.Empty(t, bad, "every VirtualService version has weights adding to 100")
	assert.Equal(t, []int{0, 10, 20, 30, 40, 50, 100, -1}, weights, "canary weights in order (-1 = deleted)")
	framework.Eventually(t, time.Minute, "stable runs v2", func() (bool, error) {
		return runningImage(t, env.Kube, ns, a.name) == "example.com/web:v2", nil
	})
}

// Given the user's own VirtualService with a route of their own, when a version
// with 10% errors is released, then it is rolled back naming error-rate, and the
// user's VirtualService is left exactly as written.
func TestIstioCanaryBadReleaseIsRolledBackAndUserVirtualServiceRestored(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := app{name: "shop", replicas: 3, router: "istio", rps: 200}
	written := createUserVirtualService(t, env, ns, a.name)
	a.create(t, env.Kube, ns)
	vs := watchVirtualService(t, env, ns, a.name)

	release(t, env.Kube, ns, a.name, "example.com/shop:bad", map[string]string{"sim.rolloutd.io/error-rate": "0.1"})

	st := requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.RolledBack)
	assert.Contains(t, st.Message, "error-rate")
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	weights, bad := vs.weights()
	assert.Empty(t, bad, "every VirtualService version has weights adding to 100")
	assert.Contains(t, weights, 10, "the canary got its first step")
	assert.Equal(t, -2, weights[len(weights)-1], "the owned routes were removed last")
	framework.Eventually(t, 30*time.Second, "the user's VirtualService as written", func() (bool, error) {
		got, err := env.Dynamic.Resource(router.VirtualServices).Namespace(ns).Get(context.Background(), a.name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return assert.ObjectsAreEqual(written.Object["spec"], got.Object["spec"]), nil
	})
	_, err := env.Dynamic.Resource(router.DestinationRules).Namespace(ns).Get(context.Background(), a.name, metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the generated DestinationRule is deleted (%v)", err)
}

func createUserVirtualService(t *testing.T, env *framework.Env, ns, name string) *unstructured.Unstructured {
	t.Helper()
	y := fmt.Sprintf(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  hosts: [%[1]s]
  http:
  - name: admin
    match: [{uri: {prefix: /admin}}]
    route: [{destination: {host: %[1]s}}]
  - name: main
    timeout: 5s
    route: [{destination: {host: %[1]s.%[2]s.svc.cluster.local}}]
`, name, ns)
	u := &unstructured.Unstructured{}
	require.NoError(t, yaml.Unmarshal([]byte(y), &u.Object))
	out, err := env.Dynamic.Resource(router.VirtualServices).Namespace(ns).Create(context.Background(), u, metav1.CreateOptions{})
	require.NoError(t, err)
	return out
}

func requireNoIstioObjects(t *testing.T, env *framework.Env, ns, name string) {
	t.Helper()
	framework.Eventually(t, 30*time.Second, "no generated Istio objects left", func() (bool, error) {
		if _, err := env.Dynamic.Resource(router.VirtualServices).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("virtualservice still there (%v)", err)
		}
		if _, err := env.Dynamic.Resource(router.DestinationRules).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("destinationrule still there (%v)", err)
		}
		return true, nil
	})
}

// vsTimeline keeps the canary weight of every version of a VirtualService: -1 when
// deleted, -2 when it has no owned split route (a user's VirtualService after reset).
type vsTimeline struct {
	mu  sync.Mutex
	ws  []int
	bad []string
}

func watchVirtualService(t *testing.T, env *framework.Env, ns, name string) *vsTimeline {
	t.Helper()
	tl := &vsTimeline{}
	onEvents(t, func(ctx context.Context) (watch.Interface, error) {
		return env.Dynamic.Resource(router.VirtualServices).Namespace(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	}, func(typ watch.EventType, u *unstructured.Unstructured) {
		weight, total := splitWeights(u, name+"-canary")
		if typ == watch.Deleted {
			weight = -1
		}
		tl.mu.Lock()
		if weight >= 0 && total != 100 {
			tl.bad = append(tl.bad, fmt.Sprintf("rv %s: weights add to %d", u.GetResourceVersion(), total))
		}
		if n := len(tl.ws); n == 0 || tl.ws[n-1] != weight {
			tl.ws = append(tl.ws, weight)
		}
		tl.mu.Unlock()
	})
	return tl
}

func (tl *vsTimeline) weights() ([]int, []string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]int(nil), tl.ws...), append([]string(nil), tl.bad...)
}

// splitWeights returns the canary weight of the owned split route and the sum of
// its weights; -2 when there is no such route.
func splitWeights(u *unstructured.Unstructured, canary string) (int, int) {
	routes, _, _ := unstructured.NestedSlice(u.Object, "spec", "http")
	for _, r := range routes {
		m, _ := r.(map[string]any)
		if m["name"] != router.RouteSplit {
			continue
		}
		weight, total := 0, 0
		dests, _ := m["route"].([]any)
		for _, d := range dests {
			dm, _ := d.(map[string]any)
			w, _, _ := unstructured.NestedInt64(dm, "weight")
			host, _, _ := unstructured.NestedString(dm, "destination", "host")
			total += int(w)
			if host == canary {
				weight = int(w)
			}
		}
		return weight, total
	}
	return -2, 0
}

// simRoute reads the simulator's route status of the entry Service ns/name.
func simRoute(ctx context.Context, env *framework.Env, ns, name string) (sim.RouteStatus, error) {
	if env.SimulatorURL == "" {
		return sim.RouteStatus{}, fmt.Errorf("simulator not running")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.SimulatorURL+"/debug/routes", nil)
	if err != nil {
		return sim.RouteStatus{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return sim.RouteStatus{}, fmt.Errorf("get /debug/routes: %w", err)
	}
	defer resp.Body.Close()
	var routes map[string]sim.RouteStatus
	if err := json.NewDecoder(resp.Body).Decode(&routes); err != nil {
		return sim.RouteStatus{}, fmt.Errorf("decode /debug/routes: %w", err)
	}
	st, ok := routes[ns+"/"+name]
	if !ok {
		return sim.RouteStatus{}, fmt.Errorf("no route status for %s/%s", ns, name)
	}
	return st, nil
}

// canaryCounts sums the requests served by, and mirrored to, the canary pods of
// name (cumulative since the simulator started).
func canaryCounts(st sim.RouteStatus, ns, name string) (served, mirrored int64) {
	prefix := ns + "/" + name + "-canary-"
	for pod, n := range st.Served {
		if strings.HasPrefix(pod, prefix) {
			served += n
		}
	}
	for pod, n := range st.Mirrored {
		if strings.HasPrefix(pod, prefix) {
			mirrored += n
		}
	}
	return served, mirrored
}
