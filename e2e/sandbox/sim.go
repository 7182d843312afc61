package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// simName is the simulator's binary, PID and log name.
const simName = "rolloutd-sim"

// simPackage is the simulator's main package, relative to the repository root.
const simPackage = "./e2e/sim/cmd/rolloutd-sim"

// simBinary is where the simulator is built.
func simBinary(l Layout) string { return filepath.Join(l.BinDir(), simName) }

// buildSimulator builds the simulator when its source exists. A failed build
// is reported but keeps a previously built binary usable. It returns whether
// a binary is available.
func buildSimulator(ctx context.Context, l Layout, warn io.Writer) bool {
	if _, err := os.Stat(filepath.Join(l.RepoRoot, simPackage)); err != nil {
		fmt.Fprintf(warn, "warning: %s does not exist yet: the sandbox runs without the data-plane simulator\n", simPackage)
		return false
	}
	begin := time.Now()
	defer func() { fmt.Fprintf(warn, "simulator built in %.1fs\n", time.Since(begin).Seconds()) }()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", simBinary(l), simPackage)
	cmd.Dir = l.RepoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(warn, "warning: the simulator does not build (%v):\n%s", err, out)
		_, statErr := os.Stat(simBinary(l))
		if statErr == nil {
			fmt.Fprintln(warn, "warning: using the simulator built earlier")
		}
		return statErr == nil
	}
	return true
}

// fileSum returns the hex SHA-256 of a file.
func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// simSumFile records the checksum of the simulator binary that is running.
func simSumFile(l Layout) string { return filepath.Join(l.PidDir(), simName+".sum") }

// stopStaleSimulator stops a running simulator whose binary was rebuilt since
// it started, so that ensure starts the new one.
func stopStaleSimulator(l Layout) error {
	sum, err := fileSum(simBinary(l))
	if err != nil {
		return fmt.Errorf("checksum simulator: %w", err)
	}
	old, _ := os.ReadFile(simSumFile(l))
	if strings.TrimSpace(string(old)) == sum {
		return nil
	}
	return pidFiles{dir: l.PidDir()}.stop(simName, 10*time.Second)
}

// simulatorService runs the simulator with the given noise seed.
func simulatorService(l Layout, seed int64) service {
	return service{
		name:      simName,
		addr:      l.SimulatorAddr(),
		readyPath: "/healthz",
		prepare: func() error {
			sum, err := fileSum(simBinary(l))
			if err != nil {
				return fmt.Errorf("checksum simulator: %w", err)
			}
			return os.WriteFile(simSumFile(l), []byte(sum+"\n"), 0o644)
		},
		spec: func() (procSpec, error) {
			return procSpec{Path: simBinary(l), Args: []string{
				"--kubeconfig", l.Kubeconfig(),
				"--listen", l.SimulatorAddr(),
				"--seed", strconv.FormatInt(seed, 10),
			}}, nil
		},
	}
}
