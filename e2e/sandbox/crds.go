package sandbox

import (
	"context"
	"fmt"
	"os/exec"
)

// applyIstioCRDs applies Istio's CRDs server-side and waits until the API
// server serves them.
func applyIstioCRDs(ctx context.Context, l Layout, t Tools) error {
	if err := kubectl(ctx, l, t, "apply", "--server-side", "--force-conflicts", "-f", t.IstioCRDs()); err != nil {
		return fmt.Errorf("apply Istio CRDs: %w", err)
	}
	if err := kubectl(ctx, l, t, "wait", "--for=condition=Established", "--timeout=60s", "-f", t.IstioCRDs()); err != nil {
		return fmt.Errorf("wait for Istio CRDs: %w", err)
	}
	return nil
}

// kubectl runs the cached kubectl against the sandbox; its output goes into
// the error when it fails.
func kubectl(ctx context.Context, l Layout, t Tools, args ...string) error {
	args = append([]string{"--kubeconfig", l.Kubeconfig()}, args...)
	out, err := exec.CommandContext(ctx, t.Bin("kubectl"), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kubectl %s: %w\n%s", args[2], err, out)
	}
	return nil
}
