// Package charts_test checks the rolloutd Helm chart with the real helm binary:
// lint, render, decode every object, and compare the RBAC it grants with the
// least-privilege table in rbac_test.go. The e2e build tag adds checks against
// the sandbox's API server (chart_e2e_test.go).
package charts_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const (
	chartDir = "rolloutd"
	// minKubeVersion is the chart's kubeVersion floor: rendering there proves the
	// chart uses no newer API. helm template defaults to an older version.
	minKubeVersion = "1.28.0"
)

// repoRoot is the module root, one level above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// helmBinary finds helm: $HELM, else the sandbox's copy; the test is skipped when
// neither exists, because the chart cannot be checked without it.
func helmBinary(t testing.TB) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	h := filepath.Join(repoRoot(t), ".sandbox", "bin", "helm")
	if _, err := os.Stat(h); err != nil {
		t.Skipf("helm not found at %s and $HELM is unset: run `make sandbox` (it installs helm into .sandbox/bin) or set HELM", h)
	}
	return h
}

// helmRunner runs helm with its cache, config and data in a private folder, so
// that parallel tests and the user's own helm setup never interfere.
type helmRunner struct {
	bin string
	env []string
}

func newHelm(t testing.TB) *helmRunner {
	t.Helper()
	bin := helmBinary(t)
	home := t.TempDir()
	env := []string{}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HELM_") || strings.HasPrefix(kv, "KUBECONFIG=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	return &helmRunner{bin: bin, env: env}
}

// run runs helm and returns stdout; err carries stderr.
func (h *helmRunner) run(args ...string) (string, error) {
	cmd := exec.Command(h.bin, args...)
	cmd.Env = h.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), &helmError{args: args, err: err, stderr: errOut.String()}
	}
	return out.String(), nil
}

type helmError struct {
	args   []string
	err    error
	stderr string
}

func (e *helmError) Error() string {
	return "helm " + strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + e.stderr
}

func stderrOf(err error) string {
	var he *helmError
	if errors.As(err, &he) {
		return he.stderr
	}
	return err.Error()
}

// valuesFile is the path of a values file in the chart's ci folder.
func valuesFile(name string) string { return filepath.Join(chartDir, "ci", name) }

// object is one rendered manifest: its raw YAML and its generic form.
type object struct {
	Source string // "rolloutd/templates/x.yaml"
	Raw    []byte
	Kind   string
	Name   string
	NS     string
	Labels map[string]string
	Map    map[string]any
}

func (o object) String() string { return o.Kind + " " + o.NS + "/" + o.Name }

var (
	docSep     = regexp.MustCompile(`(?m)^---\s*$`)
	sourceLine = regexp.MustCompile(`(?m)^# Source: (\S+)`)
)

// render runs helm template and decodes every non-empty document.
func (h *helmRunner) render(t testing.TB, release, namespace string, args ...string) []object {
	t.Helper()
	all := append([]string{"template", release, chartDir, "--namespace", namespace, "--kube-version", minKubeVersion}, args...)
	out, err := h.run(all...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeManifests(out)
	if err != nil {
		t.Fatalf("helm template %v: %v", args, err)
	}
	return objs
}

func decodeManifests(out string) ([]object, error) {
	var objs []object
	for _, doc := range docSep.Split(out, -1) {
		src := ""
		if m := sourceLine.FindStringSubmatch(doc); m != nil {
			src = m[1]
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			return nil, errors.New(src + ": " + err.Error())
		}
		if len(m) == 0 {
			continue
		}
		o := object{Source: src, Raw: []byte(doc), Map: m}
		o.Kind, _ = m["kind"].(string)
		meta, _ := m["metadata"].(map[string]any)
		o.Name, _ = meta["name"].(string)
		o.NS, _ = meta["namespace"].(string)
		o.Labels = map[string]string{}
		if l, ok := meta["labels"].(map[string]any); ok {
			for k, v := range l {
				s, ok := v.(string)
				if !ok {
					return nil, errors.New(src + ": label " + k + " is not a string")
				}
				o.Labels[k] = s
			}
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// decodeStrict decodes o into a typed API object, failing on any field the type
// does not know: a misspelt field in a template is caught without a cluster.
func decodeStrict(t testing.TB, o object, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(o.Raw, into); err != nil {
		t.Fatalf("%s (%s): %v", o, o.Source, err)
	}
}

func byKind(objs []object, kind string) []object {
	var out []object
	for _, o := range objs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}
