package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// flaggerModule is the Flagger release measured; its go.mod has no replace
// directives, so `go install` builds it like any module.
const (
	flaggerModule  = "github.com/fluxcd/flagger"
	flaggerVersion = "v1.44.0"
)

// flaggerInstall is where Flagger's binary and CRDs are cached, beside the
// sandbox's own binaries, so only the first run builds it.
type flaggerInstall struct {
	Dir string
}

func (f flaggerInstall) Bin() string  { return filepath.Join(f.Dir, "bin", "flagger") }
func (f flaggerInstall) CRDs() string { return filepath.Join(f.Dir, "crd.yaml") }

// cacheDir is the folder beside the sandbox's cache (.sandbox/env SANDBOX_TOOLS,
// or ~/.cache/rolloutd-sandbox) that holds this Flagger version.
func cacheDir(sandboxTools string) (string, error) {
	root := filepath.Dir(sandboxTools)
	if sandboxTools == "" {
		home, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache folder: %w", err)
		}
		root = filepath.Join(home, "rolloutd-sandbox")
	}
	return filepath.Join(root, "flagger-"+flaggerVersion), nil
}

// ensureFlagger builds Flagger and copies its CRDs into dir unless both are
// there already.
func ensureFlagger(ctx context.Context, dir string) (flaggerInstall, error) {
	f := flaggerInstall{Dir: dir}
	if exists(f.Bin()) && exists(f.CRDs()) {
		return f, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return f, err
	}
	start := time.Now()
	fmt.Printf("building Flagger %s into %s (once; a few minutes cold)\n", flaggerVersion, dir)
	cmd := exec.CommandContext(ctx, "go", "install", flaggerModule+"/cmd/flagger@"+flaggerVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+filepath.Join(dir, "bin"), "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return f, fmt.Errorf("go install flagger: %w\n%s", err, out)
	}
	src, err := moduleDir(ctx, flaggerModule+"@"+flaggerVersion)
	if err != nil {
		return f, err
	}
	crds, err := os.ReadFile(filepath.Join(src, "artifacts", "flagger", "crd.yaml"))
	if err != nil {
		return f, fmt.Errorf("flagger CRDs: %w", err)
	}
	if err := os.WriteFile(f.CRDs(), crds, 0o644); err != nil {
		return f, err
	}
	fmt.Printf("built Flagger in %s\n", time.Since(start).Round(time.Second))
	return f, nil
}

// moduleDir is the module cache folder of module@version.
func moduleDir(ctx context.Context, mod string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", mod).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", mod, err)
	}
	return parseModuleDir(out)
}

// parseModuleDir reads Dir from `go mod download -json` output.
func parseModuleDir(out []byte) (string, error) {
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", fmt.Errorf("go mod download output: %w", err)
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("go mod download: no module folder (%s)", m.Error)
	}
	return m.Dir, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// kubectl runs the sandbox's kubectl against kubeconfig.
func kubectl(ctx context.Context, bin, kubeconfig string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl %v: %w\n%s", args, err, out)
	}
	return nil
}
