package framework

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rolloutd/rolloutd/e2e/sandbox"
)

// ServiceAccountKubeconfig writes a kubeconfig that authenticates as the
// ServiceAccount ns/name with a one-hour token (TokenRequest), so that a
// daemon can run out of cluster with exactly that account's RBAC rights. It
// returns the file's path, inside the test's temporary folder.
func (e *Env) ServiceAccountKubeconfig(t testing.TB, ns, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("kubeconfig-%s-%s", ns, name))
	if err := sandbox.WriteServiceAccountKubeconfig(t.Context(), e.Kube, e.RESTConfig, ns, name, path, time.Hour); err != nil {
		t.Fatal(err)
	}
	return path
}
