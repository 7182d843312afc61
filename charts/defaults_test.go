package charts_test

import (
	"strings"
	"testing"
)

// TestInstallCommandsWorkWithoutFlags runs the chart's commands exactly as the
// README gives them, with helm's own default Kubernetes version: a new user's
// first `helm template` or `helm lint` must not need --kube-version.
func TestInstallCommandsWorkWithoutFlags(t *testing.T) {
	h := newHelm(t)
	for _, args := range [][]string{
		{"template", "rolloutd", chartDir},
		{"lint", chartDir, "--strict"},
	} {
		t.Run(args[0], func(t *testing.T) {
			t.Parallel()
			out, err := h.run(args...)
			if err != nil {
				t.Fatalf("helm %s: %v", strings.Join(args, " "), err)
			}
			if args[0] == "template" && !strings.Contains(out, "kind: Deployment") {
				t.Fatalf("helm template rendered no Deployment:\n%s", out)
			}
		})
	}
}
