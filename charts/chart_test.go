package charts_test

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// renderCase is one values file and what its render must contain.
type renderCase struct {
	name      string
	file      string
	release   string
	namespace string
	// fullname, serviceAccount and lease are the expected object names.
	fullname, serviceAccount, lease string
	kinds                           map[string]int
	// watch is the namespaced mode's list; nil means cluster-wide.
	watch    []string
	istio    bool
	gateway  bool
	replicas int32
	env      map[string]string // expected env values ("" = must be absent)
	token    string            // key of the webhook token; "" = webhook off
}

var renderCases = []renderCase{
	{
		name: "default", file: "default-values.yaml", release: "rolloutd", namespace: "rolloutd-system",
		fullname: "rolloutd", serviceAccount: "rolloutd", lease: "rolloutd",
		kinds: map[string]int{"ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1, "Role": 1,
			"RoleBinding": 1, "Deployment": 1, "Service": 1, "Secret": 1, "PodDisruptionBudget": 1},
		replicas: 2, token: "token",
		env: map[string]string{
			"ROLLOUTD_PROMETHEUS_URL": "http://prometheus:9090", "ROLLOUTD_NAMESPACES": "",
			"ROLLOUTD_HTTP_ADDR": ":8080", "ROLLOUTD_LEADER_ELECT": "true", "ROLLOUTD_LEASE_NAME": "rolloutd",
			"ROLLOUTD_LEASE_NAMESPACE": "rolloutd-system", "ROLLOUTD_WEBHOOK_TOKEN_FILE": "/etc/rolloutd/webhook/token",
			"ROLLOUTD_LOG_FORMAT": "json", "ROLLOUTD_LOG_LEVEL": "info", "ROLLOUTD_WORKERS": "32",
		},
	},
	{
		name: "namespaced", file: "namespaced-values.yaml", release: "platform", namespace: "delivery",
		fullname: "platform-rolloutd", serviceAccount: "platform-rolloutd", lease: "platform-rolloutd",
		kinds: map[string]int{"ServiceAccount": 1, "Role": 3, "RoleBinding": 3, "Deployment": 1, "Service": 1,
			"Secret": 1, "PodDisruptionBudget": 1},
		watch: []string{"team-a", "team-b"}, replicas: 2, token: "token",
		env: map[string]string{"ROLLOUTD_NAMESPACES": "team-a,team-b", "ROLLOUTD_LEASE_NAMESPACE": "delivery"},
	},
	{
		name: "everything enabled", file: "full-values.yaml", release: "platform", namespace: "delivery",
		fullname: "platform-rolloutd", serviceAccount: "rolloutd-controller", lease: "rolloutd-leader",
		kinds: map[string]int{"ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1, "Role": 1,
			"RoleBinding": 1, "Deployment": 1, "Service": 1, "Secret": 1, "PodDisruptionBudget": 1,
			"ServiceMonitor": 1, "PrometheusRule": 1, "ConfigMap": 1},
		istio: true, gateway: true, replicas: 3, token: "bearer",
		env: map[string]string{
			"ROLLOUTD_PROMETHEUS_URL": "http://prometheus-operated.monitoring.svc:9090", "ROLLOUTD_HTTP_ADDR": ":8080",
			"ROLLOUTD_LEASE_NAME": "rolloutd-leader", "ROLLOUTD_LEASE_DURATION": "30s", "ROLLOUTD_RENEW_DEADLINE": "20s",
			"ROLLOUTD_RETRY_PERIOD": "4s", "ROLLOUTD_WEBHOOK_TOKEN_FILE": "/etc/rolloutd/webhook/bearer",
			"ROLLOUTD_LOG_FORMAT": "console", "ROLLOUTD_LOG_LEVEL": "debug", "ROLLOUTD_WORKERS": "16",
			"ROLLOUTD_KUBE_QPS": "100", "ROLLOUTD_KUBE_BURST": "200", "ROLLOUTD_QUERY_TIMEOUT": "10s",
			"ROLLOUTD_MAX_CONCURRENT_QUERIES": "32", "ROLLOUTD_MIN_REQUESTS": "50", "ROLLOUTD_RESYNC_PERIOD": "30m",
			"ROLLOUTD_SHUTDOWN_TIMEOUT": "20s", "ROLLOUTD_CANARY_READY_TIMEOUT": "15m",
			"ROLLOUTD_GATE_TIMEOUT": "45s", "ROLLOUTD_CANARY_UNREADY_LIMIT": "1m",
		},
	},
	{
		name: "one replica, no leader election, no webhook", file: "minimal-values.yaml", release: "rolloutd",
		namespace: "rolloutd-system", fullname: "rolloutd", serviceAccount: "rolloutd",
		kinds: map[string]int{"ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1, "Deployment": 1,
			"Service": 1},
		replicas: 1,
		env: map[string]string{"ROLLOUTD_LEADER_ELECT": "false", "ROLLOUTD_LEASE_NAME": "",
			"ROLLOUTD_WEBHOOK_TOKEN_FILE": ""},
	},
}

func TestLint(t *testing.T) {
	h := newHelm(t)
	files, err := filepath.Glob(valuesFile("*.yaml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("values files in %s: %v %v", valuesFile(""), files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			out, err := h.run("lint", chartDir, "--strict", "--values", f, "--kube-version", minKubeVersion)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

func TestRender(t *testing.T) {
	h := newHelm(t)
	appVersion := chartAppVersion(t)
	for _, tc := range renderCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := h.render(t, tc.release, tc.namespace, "--values", valuesFile(tc.file))
			checkKinds(t, tc, objs)
			checkLabels(t, tc, appVersion, objs)
			checkRBAC(t, tc, objs)
			pod := checkDeployment(t, tc, objs)
			checkService(t, tc, objs, pod)
			checkSecret(t, tc, objs)
			for _, o := range byKind(objs, "PodDisruptionBudget") {
				var pdb policyv1.PodDisruptionBudget
				decodeStrict(t, o, &pdb)
				if !selects(pdb.Spec.Selector.MatchLabels, pod) {
					t.Errorf("PodDisruptionBudget selector %v does not select the pods %v", pdb.Spec.Selector.MatchLabels, pod)
				}
			}
		})
	}
}

func chartAppVersion(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil || c.AppVersion == "" {
		t.Fatalf("Chart.yaml appVersion: %q %v", c.AppVersion, err)
	}
	return c.AppVersion
}

func checkKinds(t *testing.T, tc renderCase, objs []object) {
	t.Helper()
	got := map[string]int{}
	for _, o := range objs {
		got[o.Kind]++
	}
	if !maps.Equal(got, tc.kinds) {
		t.Errorf("rendered kinds %v, want %v", got, tc.kinds)
	}
}

// checkLabels checks the Kubernetes recommended labels and the namespace of
// every object.
func checkLabels(t *testing.T, tc renderCase, appVersion string, objs []object) {
	t.Helper()
	components := []string{"controller", "rbac", "webhook", "monitoring"}
	for _, o := range objs {
		want := map[string]string{
			"app.kubernetes.io/name":       "rolloutd",
			"app.kubernetes.io/instance":   tc.release,
			"app.kubernetes.io/version":    appVersion,
			"app.kubernetes.io/part-of":    "rolloutd",
			"app.kubernetes.io/managed-by": "Helm",
			"helm.sh/chart":                "rolloutd-" + appVersion,
		}
		for k, v := range want {
			if o.Labels[k] != v {
				t.Errorf("%s: label %s=%q, want %q", o, k, o.Labels[k], v)
			}
		}
		if c := o.Labels["app.kubernetes.io/component"]; !slices.Contains(components, c) {
			t.Errorf("%s: label app.kubernetes.io/component=%q, want one of %v", o, c, components)
		}
		switch {
		case o.Kind == "ClusterRole" || o.Kind == "ClusterRoleBinding":
			if o.NS != "" {
				t.Errorf("%s: cluster-scoped object with a namespace", o)
			}
		case (o.Kind == "Role" || o.Kind == "RoleBinding") && slices.Contains(tc.watch, o.NS):
		case o.NS != tc.namespace:
			t.Errorf("%s: namespace %q, want the release namespace %q", o, o.NS, tc.namespace)
		}
	}
}

// checkRBAC compares every role with the least-privilege table and checks that
// every binding names a rendered role and only the daemon's ServiceAccount.
func checkRBAC(t *testing.T, tc renderCase, objs []object) {
	t.Helper()
	workload := [][]rule{workloadRules}
	if tc.istio {
		workload = append(workload, istioRules)
	}
	if tc.gateway {
		workload = append(workload, gatewayRules, grpcRouteRules)
	}
	roles := map[string]bool{} // "Kind ns/name"
	check := func(o object, rules []rbacv1.PolicyRule, want []grant) {
		roles[o.Kind+" "+o.NS+"/"+o.Name] = true
		got, err := grantsOf(rules)
		if err != nil {
			t.Errorf("%s: %v", o, err)
			return
		}
		if d := diffGrants(got, want); d != "" {
			t.Errorf("%s: %s", o, d)
		}
	}
	for _, o := range byKind(objs, "ClusterRole") {
		var r rbacv1.ClusterRole
		decodeStrict(t, o, &r)
		if tc.watch != nil {
			t.Errorf("%s rendered in namespaced mode", o)
		}
		check(o, r.Rules, expand(workload...))
	}
	seenWatched := map[string]bool{}
	for _, o := range byKind(objs, "Role") {
		var r rbacv1.Role
		decodeStrict(t, o, &r)
		switch {
		case o.NS == tc.namespace && strings.HasSuffix(o.Name, "-leader-election"):
			check(o, r.Rules, expand(leaseRules(tc.lease)))
		case slices.Contains(tc.watch, o.NS):
			seenWatched[o.NS] = true
			check(o, r.Rules, expand(workload...))
		default:
			t.Errorf("unexpected %s", o)
		}
	}
	for _, ns := range tc.watch {
		if !seenWatched[ns] {
			t.Errorf("no Role in watched namespace %s", ns)
		}
	}
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for _, o := range byKind(objs, kind) {
			var b rbacv1.RoleBinding // same fields as ClusterRoleBinding
			decodeStrict(t, o, &b)
			ref := b.RoleRef.Kind + " " + o.NS + "/" + b.RoleRef.Name
			if !roles[ref] {
				t.Errorf("%s: roleRef %s is not rendered", o, ref)
			}
			want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: tc.serviceAccount, Namespace: tc.namespace}}
			if !slices.Equal(b.Subjects, want) {
				t.Errorf("%s: subjects %+v, want %+v", o, b.Subjects, want)
			}
		}
	}
}

// checkDeployment checks the daemon's pod and returns its labels.
func checkDeployment(t *testing.T, tc renderCase, objs []object) map[string]string {
	t.Helper()
	ds := byKind(objs, "Deployment")
	if len(ds) != 1 {
		t.Fatalf("%d Deployments rendered", len(ds))
	}
	var d appsv1.Deployment
	decodeStrict(t, ds[0], &d)
	if d.Name != tc.fullname {
		t.Errorf("Deployment name %q, want %q", d.Name, tc.fullname)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != tc.replicas {
		t.Errorf("replicas %v, want %d", d.Spec.Replicas, tc.replicas)
	}
	pod := d.Spec.Template
	if !selects(d.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("selector %v does not select the pod labels %v", d.Spec.Selector.MatchLabels, pod.Labels)
	}
	if sa := pod.Spec.ServiceAccountName; sa != tc.serviceAccount {
		t.Errorf("serviceAccountName %q, want %q", sa, tc.serviceAccount)
	}
	for _, o := range byKind(objs, "ServiceAccount") {
		if o.Name != tc.serviceAccount {
			t.Errorf("ServiceAccount %q, want %q", o.Name, tc.serviceAccount)
		}
	}
	checkPodSecurity(t, pod.Spec)
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	checkProbe(t, "liveness", c.LivenessProbe, "/healthz")
	checkProbe(t, "readiness", c.ReadinessProbe, "/readyz")
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" {
		t.Errorf("container ports %+v, want one named http", c.Ports)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s set twice", e.Name)
		}
		env[e.Name] = e.Value
	}
	for name, want := range tc.env {
		got, ok := env[name]
		switch {
		case want == "" && ok:
			t.Errorf("env %s=%q, want it unset", name, got)
		case want != "" && got != want:
			t.Errorf("env %s=%q, want %q", name, got, want)
		}
	}
	checkEnvNames(t, env)
	checkTokenMount(t, tc, pod.Spec, c, env)
	return pod.Labels
}

// checkPodSecurity checks Pod Security Standard "restricted" fields.
func checkPodSecurity(t *testing.T, spec corev1.PodSpec) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("pod securityContext.runAsNonRoot not true: %+v", psc)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod seccompProfile is not RuntimeDefault: %+v", psc)
	}
	sc := spec.Containers[0].SecurityContext
	if sc == nil {
		t.Fatal("container has no securityContext")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("container runAsNonRoot is not true")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("capabilities %+v, want drop [ALL] and nothing added", sc.Capabilities)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("container seccompProfile is not RuntimeDefault")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged container")
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Error("pod shares a host namespace")
	}
}

func checkProbe(t *testing.T, name string, p *corev1.Probe, path string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s probe is not an HTTP probe: %+v", name, p)
		return
	}
	if p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
		t.Errorf("%s probe %s on port %s, want %s on http", name, p.HTTPGet.Path, p.HTTPGet.Port.String(), path)
	}
}

// daemonVariables reads every ROLLOUTD_* variable the daemon knows from its config.
func daemonVariables(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "internal", "config", "config.go"))
	if err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, m := range regexp.MustCompile(`env:"([A-Z0-9_]+)`).FindAllSubmatch(b, -1) {
		vars = append(vars, "ROLLOUTD_"+string(m[1]))
	}
	if len(vars) < 10 {
		t.Fatalf("found only %v in internal/config/config.go", vars)
	}
	return vars
}

// checkEnvNames fails on a ROLLOUTD_* variable the daemon does not read (a typo
// would be silently ignored by the daemon).
func checkEnvNames(t *testing.T, env map[string]string) {
	t.Helper()
	known := daemonVariables(t)
	for name := range env {
		if strings.HasPrefix(name, "ROLLOUTD_") && !slices.Contains(known, name) {
			t.Errorf("env %s is not a variable of the daemon (internal/config/config.go)", name)
		}
	}
}

// TestEveryDaemonSettingIsAValue fails when the daemon gains a variable the chart
// does not render (KUBECONFIG only matters out of cluster).
func TestEveryDaemonSettingIsAValue(t *testing.T) {
	h := newHelm(t)
	objs := h.render(t, "rolloutd", "rolloutd-system", "--values", valuesFile("full-values.yaml"))
	var d appsv1.Deployment
	decodeStrict(t, byKind(objs, "Deployment")[0], &d)
	rendered := map[string]bool{}
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		rendered[e.Name] = true
	}
	// watchNamespaces is empty in full-values.yaml; the namespaced case checks it.
	outOfCluster := []string{"ROLLOUTD_KUBECONFIG", "ROLLOUTD_NAMESPACES"}
	for _, v := range daemonVariables(t) {
		if !rendered[v] && !slices.Contains(outOfCluster, v) {
			t.Errorf("the chart never sets %s: add a value for it", v)
		}
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
