package sandbox

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Tools are the cached binaries and manifests build-tools.sh produced.
type Tools struct {
	CacheDir string // the versioned cache folder
}

// Bin returns the absolute path of a cached binary.
func (t Tools) Bin(name string) string { return filepath.Join(t.CacheDir, "bin", name) }

// IstioCRDs is the CRD manifest shipped by the istio.io/api module.
func (t Tools) IstioCRDs() string { return filepath.Join(t.CacheDir, "istio-crds.yaml") }

// buildTools runs build-tools.sh, streaming its progress to progress, and
// returns the cache folder it printed on its last line. Cached tools make it
// return in well under a second.
func buildTools(l Layout, progress io.Writer) (Tools, error) {
	script := filepath.Join(l.RepoRoot, "e2e", "sandbox", "build-tools.sh")
	var stdout bytes.Buffer
	cmd := exec.Command("bash", script)
	cmd.Dir = l.RepoRoot
	cmd.Stdout = &stdout
	cmd.Stderr = progress
	if err := cmd.Run(); err != nil {
		return Tools{}, fmt.Errorf("build sandbox tools with %s: %w (see the messages above)", script, err)
	}
	var last string
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			last = s
		}
	}
	t := Tools{CacheDir: last}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok", "kwokctl", "helm"} {
		if _, err := os.Stat(t.Bin(b)); err != nil {
			return Tools{}, fmt.Errorf("build-tools.sh finished but %s is missing (%w): remove %s and run again", b, err, t.CacheDir)
		}
	}
	return t, nil
}

// linkTools puts kubectl, helm and kwokctl into the sandbox's bin folder.
func linkTools(l Layout, t Tools) error {
	for _, b := range []string{"kubectl", "helm", "kwokctl"} {
		dst := filepath.Join(l.BinDir(), b)
		if cur, err := os.Readlink(dst); err == nil && cur == t.Bin(b) {
			continue
		}
		_ = os.Remove(dst)
		if err := os.Symlink(t.Bin(b), dst); err != nil {
			return fmt.Errorf("link %s into %s: %w", b, l.BinDir(), err)
		}
	}
	return nil
}
