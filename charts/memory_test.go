package charts_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// TestGoMemoryLimitFollowsTheContainerLimit: the Go runtime is told the
// container's memory limit, so it collects harder near it instead of being
// OOM-killed.
func TestGoMemoryLimitFollowsTheContainerLimit(t *testing.T) {
	h := newHelm(t)
	objs := h.render(t, "rolloutd", "rolloutd-system", "--set", "resources.limits.memory=300Mi")
	var d appsv1.Deployment
	decodeStrict(t, byKind(objs, "Deployment")[0], &d)
	c := d.Spec.Template.Spec.Containers[0]
	if got := c.Resources.Limits.Memory().String(); got != "300Mi" {
		t.Fatalf("memory limit %s, want 300Mi", got)
	}
	for _, e := range c.Env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		if e.ValueFrom == nil || e.ValueFrom.ResourceFieldRef == nil || e.ValueFrom.ResourceFieldRef.Resource != "limits.memory" {
			t.Fatalf("GOMEMLIMIT is %+v, want the container's limits.memory", e)
		}
		return
	}
	t.Fatal("GOMEMLIMIT is not set")
}
