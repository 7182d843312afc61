//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/internal/controller"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// chartDaemon installs the chart in its own namespace, watching ns, and runs the
// daemon as a local process with a token of the chart's ServiceAccount: exactly the
// chart's rights, no more.
func chartDaemon(t *testing.T, env *framework.Env, ns string) (sys string) {
	t.Helper()
	sys = env.Namespace(t)
	const release = "rolloutd"
	helm := func(args ...string) {
		cmd := exec.Command(filepath.Join(env.BinDir, "helm"), args...)
		home := t.TempDir()
		cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig,
			"HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "helm %s:\n%s", strings.Join(args, " "), out)
	}
	helm("install", release, filepath.Join(env.RepoRoot, "charts", "rolloutd"), "--namespace", sys,
		"--set", "watchNamespaces={"+ns+"}", "--set", "replicaCount=1",
		"--set", "prometheus.url="+env.PromURL, "--wait", "--timeout", "2m")
	t.Cleanup(func() { helm("uninstall", release, "--namespace", sys, "--wait") })
	kubeconfig := env.ServiceAccountKubeconfig(t, sys, release)
	env.StartDaemon(t, framework.DaemonOptions{Namespaces: []string{ns}, Env: map[string]string{
		"KUBECONFIG":               kubeconfig,
		"ROLLOUTD_LEADER_ELECT":    "true",
		"ROLLOUTD_LEASE_NAMESPACE": sys,
		"ROLLOUTD_LEASE_NAME":      release,
	}})
	return sys
}

// Given the daemon running with only the chart's rights, when a healthy and then a
// failing version are released, then the first is promoted and the second rolled
// back: the chart grants everything a canary needs.
func TestChartRightsSufficeForCanaryReleases(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	chartDaemon(t, env, ns)
	a := app{name: "rbac", replicas: 3, router: "nginx", rps: 200, annotations: map[string]string{"rolloutd.io/steps": "20,50"}}
	a.create(t, env.Kube, ns)

	release(t, env.Kube, ns, a.name, "example.com/rbac:v2", nil)
	st := requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded)

	release(t, env.Kube, ns, a.name, "example.com/rbac:bad", map[string]string{"sim.rolloutd.io/error-rate": "0.1"})
	st = waitPhase(t, env.Kube, ns, a.name, rolloutTimeout, contract.RolledBack)
	assert.Contains(t, st.Message, "error-rate")
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
}

// Given the chart's Role without one needed verb (create on Ingresses), when a
// version is released, then the Deployment carries a PermissionDenied Warning naming
// the refused request, and no traffic reaches the canary.
func TestMissingRightIsReportedOnTheDeployment(t *testing.T) {
	t.Parallel()
	env, ns := namespaceScenario(t)
	chartDaemon(t, env, ns)
	dropVerb(t, env, ns, "ingresses", "create")
	a := app{name: "denied", replicas: 2, router: "nginx", rps: 100}
	a.create(t, env.Kube, ns)

	release(t, env.Kube, ns, a.name, "example.com/denied:v2", nil)

	framework.Eventually(t, time.Minute, "PermissionDenied event naming ingresses", func() (bool, error) {
		evs, err := env.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Reason == controller.ReasonPermissionDenied && strings.Contains(e.Message, "ingresses") &&
				strings.Contains(e.Message, "forbidden") {
				return true, nil
			}
		}
		return false, nil
	})
	_, err := env.Kube.NetworkingV1().Ingresses(ns).Get(context.Background(), a.name+"-canary", metav1.GetOptions{})
	assert.Error(t, err, "no canary Ingress could be created")
}

// dropVerb removes verb on resource from the chart's Role in ns.
func dropVerb(t *testing.T, env *framework.Env, ns, resource, verb string) {
	t.Helper()
	roles, err := env.Kube.RbacV1().Roles(ns).List(context.Background(), metav1.ListOptions{
		LabelSelector: "app.kubernetes.io/instance=rolloutd"})
	require.NoError(t, err)
	require.Len(t, roles.Items, 1, "the chart's Role in %s", ns)
	role := roles.Items[0].DeepCopy()
	changed := false
	for i, rule := range role.Rules {
		if !contains(rule.Resources, resource) {
			continue
		}
		var verbs []string
		for _, v := range rule.Verbs {
			if v != verb {
				verbs = append(verbs, v)
			}
		}
		changed = changed || len(verbs) != len(rule.Verbs)
		role.Rules[i] = rbacv1.PolicyRule{APIGroups: rule.APIGroups, Resources: rule.Resources, Verbs: verbs, ResourceNames: rule.ResourceNames}
	}
	require.True(t, changed, "the Role grants %s on %s", verb, resource)
	_, err = env.Kube.RbacV1().Roles(ns).Update(context.Background(), role, metav1.UpdateOptions{})
	require.NoError(t, err)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
