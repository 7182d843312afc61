package charts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestDockerfile checks what can be checked without building the image (this
// machine cannot): every package the daemon imports is copied into the build
// stage, the build is static, and the image's user is the chart's runAsUser.
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)

	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not in PATH: cannot list the daemon's packages")
	}
	cmd := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./cmd/rolloutd")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/rolloutd/rolloutd/"
	copied := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^COPY (\S+)/ `).FindAllStringSubmatch(df, -1) {
		copied[m[1]] = true
	}
	for _, pkg := range strings.Fields(string(out)) {
		rel, ok := strings.CutPrefix(pkg, module)
		if !ok {
			continue
		}
		top, _, _ := strings.Cut(rel, "/")
		if !copied[top] {
			t.Errorf("the daemon imports %s but the Dockerfile does not COPY %s/", pkg, top)
		}
	}

	for _, want := range []string{"CGO_ENABLED=0", "./cmd/rolloutd", "gcr.io/distroless/static", ":nonroot"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	user := regexp.MustCompile(`(?m)^USER (\d+):(\d+)$`).FindStringSubmatch(df)
	var values struct {
		PodSecurityContext struct {
			RunAsUser  int `json:"runAsUser"`
			RunAsGroup int `json:"runAsGroup"`
		} `json:"podSecurityContext"`
	}
	vb, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(vb, &values); err != nil {
		t.Fatal(err)
	}
	psc := values.PodSecurityContext
	if user == nil || user[1] != strconv.Itoa(psc.RunAsUser) || user[2] != strconv.Itoa(psc.RunAsGroup) {
		t.Errorf("Dockerfile USER %v, want %d:%d as in values.yaml podSecurityContext", user, psc.RunAsUser, psc.RunAsGroup)
	}
}
