package charts_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

var metricName = regexp.MustCompile(`\brolloutd_[a-z0-9_]+\b`)

// daemonMetrics reads the names of the metrics the daemon registers, from its
// sources, so that an alert or a panel on a renamed metric fails here rather
// than staying silent in production.
func daemonMetrics(t testing.TB) []string {
	t.Helper()
	root := repoRoot(t)
	var names []string
	for _, dir := range []string{"internal", "analysis", "router", "strategy"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range regexp.MustCompile(`Name:\s+"(rolloutd_[a-z0-9_]+)"`).FindAllSubmatch(b, -1) {
				names = append(names, string(m[1]))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Contains(names, "rolloutd_rollout_phase") {
		t.Fatalf("metric names not found in the daemon's sources: %v", names)
	}
	return names
}

// checkMetricNames fails on a rolloutd_* series in expr the daemon does not export.
func checkMetricNames(t *testing.T, where, expr string, known []string) {
	t.Helper()
	for _, m := range metricName.FindAllString(expr, -1) {
		base := m
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(m, suffix); ok && slices.Contains(known, b) {
				base = b
			}
		}
		if !slices.Contains(known, base) {
			t.Errorf("%s uses %s, which the daemon does not export (known: %v)", where, m, known)
		}
	}
}

// promRule is one rule of a PrometheusRule.
type promRule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type ruleGroups struct {
	Groups []struct {
		Name  string     `json:"name"`
		Rules []promRule `json:"rules"`
	} `json:"groups"`
}

func renderMonitoring(t *testing.T) (objs []object, groups ruleGroups) {
	t.Helper()
	h := newHelm(t)
	objs = h.render(t, "rolloutd", "rolloutd-system", "--values", valuesFile("full-values.yaml"))
	pr := byKind(objs, "PrometheusRule")
	if len(pr) != 1 {
		t.Fatalf("%d PrometheusRules rendered", len(pr))
	}
	var obj struct {
		Spec ruleGroups `json:"spec"`
	}
	if err := yaml.Unmarshal(pr[0].Raw, &obj); err != nil {
		t.Fatal(err)
	}
	return objs, obj.Spec
}

func TestPrometheusRule(t *testing.T) {
	objs, groups := renderMonitoring(t)
	known := daemonMetrics(t)
	var alerts []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			checkMetricNames(t, "alert "+r.Alert, r.Expr, known)
			if r.Alert != "" && r.Labels["severity"] == "" {
				t.Errorf("alert %s has no severity", r.Alert)
			}
			if r.Alert != "" && r.Alert != "RolloutdCanaryHeavy" && r.Labels["team"] != "platform" {
				t.Errorf("alert %s lacks prometheusRule.alertLabels", r.Alert)
			}
		}
	}
	for _, want := range []string{"RolloutdRolledBack", "RolloutdRolloutStuck", "RolloutdForbidden", "RolloutdWebhookRejected", "RolloutdDown", "RolloutdCanaryHeavy"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("alert %s missing from %v", want, alerts)
		}
	}
	if labels := byKind(objs, "PrometheusRule")[0].Labels; labels["release"] != "kube-prometheus-stack" {
		t.Errorf("PrometheusRule labels %v lack prometheusRule.labels", labels)
	}
	promtoolRules(t, groups)
}

// promtoolRules checks the rules' PromQL with promtool and runs unit tests of the
// main alerts on synthetic series, when promtool is installed.
func promtoolRules(t *testing.T, groups ruleGroups) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not in PATH: PromQL of the rules not checked (install the prometheus package to check it)")
		return
	}
	dir := t.TempDir()
	b, err := yaml.Marshal(groups)
	if err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", rules).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	tests := filepath.Join(dir, "tests.yaml")
	if err := os.WriteFile(tests, []byte(ruleTests), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", tests).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// ruleTests are promtool unit tests: each alert fires on the series the daemon
// exports in that situation, with the labels users route on, and stays silent
// otherwise.
const ruleTests = `
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'rolloutd_rollout_phase{namespace="shop",deployment="cart",phase="RolledBack",pod="rolloutd-0"}'
        values: '0 1 1'
      - series: 'rolloutd_rollout_phase{namespace="shop",deployment="web",phase="Progressing",pod="rolloutd-0"}'
        values: '1x150'
      - series: 'rolloutd_rollout_phase{namespace="shop",deployment="api",phase="Progressing",pod="rolloutd-0"}'
        values: '1x30 0x120'
      - series: 'rolloutd_reconcile_errors_total{kind="forbidden",pod="rolloutd-0"}'
        values: '0 0 3 3'
      - series: 'rolloutd_reconcile_errors_total{kind="conflict",pod="rolloutd-0"}'
        values: '0+100x30'
      - series: 'rolloutd_webhook_requests_total{code="401",pod="rolloutd-0"}'
        values: '0 0 1 1'
      - series: 'rolloutd_webhook_requests_total{code="200",pod="rolloutd-0"}'
        values: '0+5x30'
    alert_rule_test:
      - eval_time: 2m
        alertname: RolloutdRolledBack
        exp_alerts:
          - exp_labels: {namespace: shop, deployment: cart, severity: warning, team: platform}
            exp_annotations:
              summary: rolloutd rolled back shop/cart
              description: The new revision of Deployment shop/cart was rolled back; its Events and "rolloutctl get cart -n shop" name the failed checks.
      - eval_time: 2h30m
        alertname: RolloutdRolloutStuck
        exp_alerts:
          - exp_labels: {namespace: shop, deployment: web, severity: warning, team: platform}
            exp_annotations:
              summary: Rollout of shop/web progressing for too long
              description: "The rollout of shop/web has been Progressing for more than 2h: a canary that does not become Ready, or analysis that stays inconclusive (too little traffic for config.minRequests)."
      - eval_time: 3m
        alertname: RolloutdForbidden
        exp_alerts:
          - exp_labels: {severity: critical, team: platform}
            exp_annotations:
              summary: rolloutd is denied by RBAC
              description: "Reconciles fail with Forbidden: compare the ServiceAccount's rights (kubectl auth can-i --list --as=system:serviceaccount:rolloutd-system:rolloutd-controller) with the chart's RBAC; the daemon's logs name the verb and resource."
      - eval_time: 30m
        alertname: RolloutdReconcileErrors
        exp_alerts: []
      - eval_time: 3m
        alertname: RolloutdWebhookRejected
        exp_alerts:
          - exp_labels: {code: "401", severity: warning, team: platform}
            exp_annotations:
              summary: rolloutd's Alertmanager webhook answers 401
              description: "Alerts are not reaching rolloutd, so they roll nothing back. 401/403: give Alertmanager the token in Secret rolloutd-system/rolloutd-webhook (key bearer); 503: the marking queue is full."
`

func TestServiceMonitor(t *testing.T) {
	objs, _ := renderMonitoring(t)
	sms := byKind(objs, "ServiceMonitor")
	if len(sms) != 1 {
		t.Fatalf("%d ServiceMonitors rendered", len(sms))
	}
	var sm struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			NamespaceSelector struct {
				MatchNames []string `json:"matchNames"`
			} `json:"namespaceSelector"`
			Endpoints []struct {
				Port        string `json:"port"`
				Path        string `json:"path"`
				HonorLabels bool   `json:"honorLabels"`
				Interval    string `json:"interval"`
			} `json:"endpoints"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(sms[0].Raw, &sm); err != nil {
		t.Fatal(err)
	}
	var svc corev1.Service
	decodeStrict(t, byKind(objs, "Service")[0], &svc)
	if !selects(sm.Spec.Selector.MatchLabels, svc.Labels) {
		t.Errorf("ServiceMonitor selector %v does not select the Service labels %v", sm.Spec.Selector.MatchLabels, svc.Labels)
	}
	if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{"rolloutd-system"}) {
		t.Errorf("namespaceSelector %v, want the release namespace", sm.Spec.NamespaceSelector.MatchNames)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("endpoints %+v", sm.Spec.Endpoints)
	}
	ep := sm.Spec.Endpoints[0]
	// honorLabels keeps the metrics' namespace label (the Deployment's) instead of
	// renaming it exported_namespace, which the alerts and dashboard rely on.
	if ep.Port != "http" || ep.Path != "/metrics" || !ep.HonorLabels || ep.Interval != "15s" {
		t.Errorf("endpoint %+v, want port http, path /metrics, honorLabels, interval 15s", ep)
	}
	if sms[0].Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("ServiceMonitor labels %v lack serviceMonitor.labels", sms[0].Labels)
	}
}

func TestGrafanaDashboard(t *testing.T) {
	objs, _ := renderMonitoring(t)
	cms := byKind(objs, "ConfigMap")
	if len(cms) != 1 {
		t.Fatalf("%d ConfigMaps rendered", len(cms))
	}
	var cm corev1.ConfigMap
	decodeStrict(t, cms[0], &cm)
	if cm.Labels["grafana_dashboard"] != "1" || cm.Annotations["grafana_folder"] != "Delivery" {
		t.Errorf("dashboard ConfigMap labels %v annotations %v", cm.Labels, cm.Annotations)
	}
	raw, ok := cm.Data["rolloutd.json"]
	if !ok {
		t.Fatalf("ConfigMap keys %v, want rolloutd.json", cm.Data)
	}
	var dash struct {
		UID           string `json:"uid"`
		Title         string `json:"title"`
		SchemaVersion int    `json:"schemaVersion"`
		Panels        []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			GridPos *struct {
				W, H int
			} `json:"gridPos"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal([]byte(raw), &dash); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	if dash.UID == "" || dash.Title == "" || dash.SchemaVersion == 0 || len(dash.Panels) == 0 {
		t.Fatalf("dashboard lacks uid, title, schemaVersion or panels: %+v", dash)
	}
	known := daemonMetrics(t)
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W == 0 || len(p.Targets) == 0 {
			t.Errorf("panel %q has no position or no query", p.Title)
		}
		for _, tg := range p.Targets {
			checkMetricNames(t, "panel "+p.Title, tg.Expr, known)
		}
	}
	var vars []string
	for _, v := range dash.Templating.List {
		vars = append(vars, v.Name)
	}
	if !slices.Contains(vars, "datasource") {
		t.Errorf("dashboard variables %v: want a datasource variable so it works with any Prometheus", vars)
	}
}
