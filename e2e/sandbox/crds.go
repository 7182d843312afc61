package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/rolloutd/rolloutd/e2e/sim"
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

// gatewayAPIModule is the module whose standard-channel CRDs the sandbox
// installs; its version is the one go.mod requires.
const gatewayAPIModule = "sigs.k8s.io/gateway-api"

// SimGatewayClass is the GatewayClass the data-plane simulator controls.
const SimGatewayClass = sim.GatewayClassName

// SimGatewayController is the controllerName of GatewayClass sim.
const SimGatewayController = sim.GatewayController

// gatewayAPICRDDir returns the standard-channel CRD folder of the Gateway API
// module at the version go.mod requires (the module cache holds it: the
// daemon is built against it).
func gatewayAPICRDDir(ctx context.Context, l Layout) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", gatewayAPIModule)
	cmd.Dir = l.RepoRoot
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", gatewayAPIModule, err)
	}
	var mod struct{ Dir, Version string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no module folder in %q (%v)", gatewayAPIModule, out, err)
	}
	return filepath.Join(mod.Dir, "config", "crd", "standard"), nil
}

// applyGatewayAPI applies the Gateway API standard-channel CRDs server-side,
// waits until they are served, and creates GatewayClass sim.
func applyGatewayAPI(ctx context.Context, l Layout, t Tools) error {
	dir, err := gatewayAPICRDDir(ctx, l)
	if err != nil {
		return err
	}
	if err := kubectl(ctx, l, t, "apply", "--server-side", "--force-conflicts", "-f", dir); err != nil {
		return fmt.Errorf("apply Gateway API CRDs: %w", err)
	}
	if err := kubectl(ctx, l, t, "wait", "--for=condition=Established", "--timeout=60s", "crd",
		"gatewayclasses.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io",
		"httproutes.gateway.networking.k8s.io", "grpcroutes.gateway.networking.k8s.io"); err != nil {
		return fmt.Errorf("wait for Gateway API CRDs: %w", err)
	}
	class := l.Path("gatewayclass-sim.yaml")
	manifest := fmt.Sprintf("apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata:\n  name: %s\nspec:\n  controllerName: %s\n",
		SimGatewayClass, SimGatewayController)
	if err := os.WriteFile(class, []byte(manifest), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", class, err)
	}
	if err := kubectl(ctx, l, t, "apply", "--server-side", "-f", class); err != nil {
		return fmt.Errorf("create GatewayClass %s: %w", SimGatewayClass, err)
	}
	return nil
}

// gatewayAPIPresent checks for the HTTPRoute CRD and GatewayClass sim.
func gatewayAPIPresent(ctx context.Context, l Layout, t Tools) bool {
	return kubectl(ctx, l, t, "get", "crd", "httproutes.gateway.networking.k8s.io") == nil &&
		kubectl(ctx, l, t, "get", "gatewayclass", SimGatewayClass) == nil
}
