//go:build e2e

package charts_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// These tests need the sandbox (`make sandbox`): they validate the rendered
// manifests with the API server's own schemas and admission (server-side dry run),
// install, upgrade and uninstall the chart, and read the ServiceAccount's rights
// back from the API server with kubectl auth can-i --list.

// cluster is the sandbox's admin access through kubectl and helm.
type cluster struct {
	kubeconfig string
	kubectlBin string
	helm       *helmRunner
}

// sandboxCluster returns the sandbox, or skips the test when it is not running.
func sandboxCluster(t *testing.T) *cluster {
	t.Helper()
	root := repoRoot(t)
	c := &cluster{
		kubeconfig: filepath.Join(root, ".sandbox", "kubeconfig"),
		kubectlBin: filepath.Join(root, ".sandbox", "bin", "kubectl"),
	}
	for _, f := range []string{c.kubeconfig, c.kubectlBin} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("sandbox not running (%s missing): run `make sandbox`", f)
		}
	}
	if out, err := c.kubectl("", "get", "nodes", "-o", "name"); err != nil {
		t.Skipf("sandbox API server not reachable (run `make sandbox`): %v\n%s", err, out)
	}
	c.helm = newHelm(t)
	c.helm.env = append(c.helm.env, "KUBECONFIG="+c.kubeconfig)
	return c
}

// kubectl runs kubectl as the sandbox's admin; stdin may be empty.
func (c *cluster) kubectl(stdin string, args ...string) (string, error) {
	cmd := exec.Command(c.kubectlBin, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (c *cluster) mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := c.kubectl(stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// namespace creates a fresh namespace enforcing Pod Security "restricted", so
// that the daemon's pods are admitted only if the chart's security contexts
// comply, and deletes it when the test ends.
func (c *cluster) namespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := uniqueName(prefix)
	c.mustKubectl(t, "", "create", "namespace", ns)
	t.Cleanup(func() {
		if out, err := c.kubectl("", "delete", "namespace", ns, "--wait=false", "--ignore-not-found"); err != nil {
			t.Logf("delete namespace %s: %v\n%s", ns, err, out)
		}
	})
	c.mustKubectl(t, "", "label", "namespace", ns,
		"pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/warn=restricted")
	return ns
}

// served reports whether the API server serves kind in group (the sandbox has no
// Prometheus Operator CRDs).
func (c *cluster) served(t *testing.T, group, resource string) bool {
	t.Helper()
	out := c.mustKubectl(t, "", "api-resources", "--api-group="+group, "-o", "name")
	return slices.Contains(strings.Fields(out), resource+"."+group)
}

// TestServerSideDryRun validates every values file's manifests with the API
// server: schemas (strict field validation), RBAC escalation checks and Pod
// Security admission warnings.
func TestServerSideDryRun(t *testing.T) {
	c := sandboxCluster(t)
	monitoring := c.served(t, "monitoring.coreos.com", "servicemonitors") &&
		c.served(t, "monitoring.coreos.com", "prometheusrules")
	files, err := filepath.Glob(valuesFile("*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("values files: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			ns := c.namespace(t, "chart-dry")
			args := []string{"--values", f}
			if strings.Contains(f, "namespaced") {
				args = append(args, "--set-json",
					`watchNamespaces=["`+c.namespace(t, "chart-dry-a")+`","`+c.namespace(t, "chart-dry-b")+`"]`)
			}
			objs := c.helm.render(t, uniqueName("dry"), ns, args...)
			var docs []string
			for _, o := range objs {
				if !monitoring && (o.Kind == "ServiceMonitor" || o.Kind == "PrometheusRule") {
					t.Logf("%s not validated: the sandbox serves no monitoring.coreos.com CRDs", o)
					continue
				}
				docs = append(docs, string(o.Raw))
			}
			out := c.mustKubectl(t, strings.Join(docs, "\n---\n"),
				"apply", "--dry-run=server", "--validate=strict", "-f", "-")
			if strings.Contains(out, "PodSecurity") || strings.Contains(strings.ToLower(out), "warning") {
				t.Errorf("server-side dry run warned:\n%s", out)
			}
			if n := strings.Count(out, "(server dry run)"); n != len(docs) {
				t.Errorf("%d of %d objects validated:\n%s", n, len(docs), out)
			}
		})
	}
}

// TestInstallClusterWide installs the chart with its defaults, reads the
// ServiceAccount's rights back from the API server, upgrades, and uninstalls
// without cluster-scoped leftovers.
func TestInstallClusterWide(t *testing.T) {
	t.Parallel()
	c := sandboxCluster(t)
	ns := c.namespace(t, "chart-e2e")
	other := c.namespace(t, "chart-e2e-other")
	release := uniqueName("rolloutd")
	fullname := release // the release name contains the chart name
	c.install(t, release, ns, "--values", valuesFile("default-values.yaml"))

	// Given the chart is installed, the daemon's pods run under Pod Security
	// "restricted" and its ServiceAccount holds exactly the table's rights.
	c.mustKubectl(t, "", "-n", ns, "rollout", "status", "deployment/"+fullname, "--timeout=2m")
	c.checkRights(t, ns, fullname, ns, expand(workloadRules, leaseRules(fullname)))
	c.checkRights(t, ns, fullname, other, expand(workloadRules))
	token := c.mustKubectl(t, "", "-n", ns, "get", "secret", fullname+"-webhook", "-o", "jsonpath={.data.token}")

	// When it is upgraded with a changed value, the token Alertmanager was given
	// stays and the new setting reaches the pods.
	c.mustHelm(t, "upgrade", release, chartDir, "--namespace", ns, "--reuse-values",
		"--set", "config.logLevel=debug", "--wait", "--timeout", "3m")
	if after := c.mustKubectl(t, "", "-n", ns, "get", "secret", fullname+"-webhook", "-o", "jsonpath={.data.token}"); after != token || token == "" {
		t.Errorf("webhook token changed on upgrade (%q -> %q)", token, after)
	}
	env := c.mustKubectl(t, "", "-n", ns, "get", "deployment", fullname, "-o",
		`jsonpath={.spec.template.spec.containers[0].env[?(@.name=="ROLLOUTD_LOG_LEVEL")].value}`)
	if env != "debug" {
		t.Errorf("ROLLOUTD_LOG_LEVEL after upgrade = %q, want debug", env)
	}
	c.checkRights(t, ns, fullname, ns, expand(workloadRules, leaseRules(fullname)))

	// When it is uninstalled, nothing of it is left, cluster-scoped or not.
	c.uninstall(t, release, ns)
	c.checkNoLeftovers(t, release, ns)
}

// TestInstallNamespaced installs the chart watching two namespaces: the rights
// exist there and nowhere else, and no cluster-wide role is created.
func TestInstallNamespaced(t *testing.T) {
	t.Parallel()
	c := sandboxCluster(t)
	ns := c.namespace(t, "chart-e2e-ns")
	a, b := c.namespace(t, "chart-e2e-a"), c.namespace(t, "chart-e2e-b")
	unwatched := c.namespace(t, "chart-e2e-c")
	release := uniqueName("platform")
	fullname := release + "-rolloutd"
	c.install(t, release, ns, "--values", valuesFile("namespaced-values.yaml"),
		"--set-json", `watchNamespaces=["`+a+`","`+b+`"]`, "--set", "rbac.istio=true")

	c.mustKubectl(t, "", "-n", ns, "rollout", "status", "deployment/"+fullname, "--timeout=2m")
	watched := expand(workloadRules, istioRules)
	c.checkRights(t, ns, fullname, a, watched)
	c.checkRights(t, ns, fullname, b, watched)
	c.checkRights(t, ns, fullname, ns, expand(leaseRules(fullname)))
	c.checkRights(t, ns, fullname, unwatched, nil)
	if out := c.mustKubectl(t, "", "get", "clusterrole,clusterrolebinding", "-l",
		"app.kubernetes.io/instance="+release, "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("namespaced mode created cluster-scoped objects:\n%s", out)
	}

	c.uninstall(t, release, ns)
	c.checkNoLeftovers(t, release, ns, a, b)
}

func (c *cluster) mustHelm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.helm.run(args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// install runs helm install and uninstalls in cleanup if the test stops early.
func (c *cluster) install(t *testing.T, release, ns string, args ...string) {
	t.Helper()
	t.Cleanup(func() {
		// Already gone after a successful test; this only catches failures.
		_, _ = c.helm.run("uninstall", release, "--namespace", ns, "--ignore-not-found", "--wait")
	})
	all := append([]string{"install", release, chartDir, "--namespace", ns, "--wait", "--timeout", "3m"}, args...)
	c.mustHelm(t, all...)
}

func (c *cluster) uninstall(t *testing.T, release, ns string) {
	t.Helper()
	c.mustHelm(t, "uninstall", release, "--namespace", ns, "--wait", "--timeout", "3m")
}

// checkNoLeftovers fails when any object labelled with the release remains:
// cluster-scoped anywhere, namespaced in the given namespaces.
func (c *cluster) checkNoLeftovers(t *testing.T, release string, namespaces ...string) {
	t.Helper()
	sel := "app.kubernetes.io/instance=" + release
	if out := c.mustKubectl(t, "", "get", "clusterrole,clusterrolebinding", "-l", sel, "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("cluster-scoped leftovers after uninstall:\n%s", out)
	}
	for _, ns := range namespaces {
		out := c.mustKubectl(t, "", "-n", ns, "get",
			"deployment,service,serviceaccount,secret,role,rolebinding,poddisruptionbudget,configmap", "-l", sel, "-o", "name")
		if strings.TrimSpace(out) != "" {
			t.Errorf("leftovers in %s after uninstall:\n%s", ns, out)
		}
	}
}

// checkRights compares what the ServiceAccount may do in namespace ns (kubectl
// auth can-i --list, as the API server evaluates it) with want. What every
// ServiceAccount may do (discovery, self reviews) is measured on a fresh
// ServiceAccount in the same namespace and left out.
func (c *cluster) checkRights(t *testing.T, saNamespace, sa, ns string, want []grant) {
	t.Helper()
	baselineSA := "baseline-" + sa
	if _, err := c.kubectl("", "-n", saNamespace, "get", "serviceaccount", baselineSA); err != nil {
		c.mustKubectl(t, "", "-n", saNamespace, "create", "serviceaccount", baselineSA)
	}
	baseline := c.canIList(t, saNamespace, baselineSA, ns)
	var got []grant
	for _, g := range c.canIList(t, saNamespace, sa, ns) {
		if !slices.Contains(baseline, g) {
			got = append(got, g)
		}
	}
	if d := diffGrants(sortGrants(got), want); d != "" {
		t.Errorf("system:serviceaccount:%s:%s in namespace %s: %s", saNamespace, sa, ns, d)
	}
}

var canIRow = regexp.MustCompile(`^(\S*)\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s*$`)

// canIList parses kubectl auth can-i --list; non-resource URLs become grants on
// "url:<path>".
func (c *cluster) canIList(t *testing.T, saNamespace, sa, ns string) []grant {
	t.Helper()
	out := c.mustKubectl(t, "", "auth", "can-i", "--list", "-n", ns,
		"--as=system:serviceaccount:"+saNamespace+":"+sa)
	var gs []grant
	for i, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if i == 0 {
			continue // header
		}
		m := canIRow.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unparsed kubectl auth can-i line %q", line)
		}
		resource := m[1]
		if resource == "" {
			resource = "url:" + m[2]
		}
		names := strings.Fields(m[3])
		if len(names) == 0 {
			names = []string{""}
		}
		for _, n := range names {
			for _, v := range strings.Fields(m[4]) {
				gs = append(gs, grant{resource, n, v})
			}
		}
	}
	return sortGrants(gs)
}

// uniqueName returns prefix plus a random suffix, a valid DNS label, so that
// tests running at once never share a release or a namespace.
func uniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}
