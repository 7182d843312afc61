//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

var (
	ctlOnce sync.Once
	ctlPath string
	ctlErr  error
)

// rolloutctl builds ./cmd/rolloutctl once per test binary into a temporary folder.
func rolloutctl(t *testing.T, env *framework.Env) string {
	t.Helper()
	ctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rolloutctl-e2e-")
		if err != nil {
			ctlErr = err
			return
		}
		ctlPath = filepath.Join(dir, "rolloutctl")
		cmd := exec.Command("go", "build", "-o", ctlPath, "./cmd/rolloutctl")
		cmd.Dir = env.RepoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			ctlErr = fmt.Errorf("go build ./cmd/rolloutctl: %w\n%s", err, out)
		}
	})
	require.NoError(t, ctlErr)
	return ctlPath
}

// operator runs the real rolloutctl against one namespace of the sandbox.
type operator struct {
	t   *testing.T
	bin string
	env *framework.Env
	ns  string
}

func newOperator(t *testing.T, env *framework.Env, ns string) operator {
	return operator{t: t, bin: rolloutctl(t, env), env: env, ns: ns}
}

func (o operator) command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, o.bin, append([]string{"--kubeconfig", o.env.Kubeconfig, "-n", o.ns}, args...)...)
}

// run runs rolloutctl to its end and returns its stdout and exit code.
func (o operator) run(timeout time.Duration, args ...string) (string, int) {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := o.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		o.t.Logf("rolloutctl %s: exit %d\n%s%s", strings.Join(args, " "), exit.ExitCode(), stdout.String(), stderr.String())
		return stdout.String(), exit.ExitCode()
	case err != nil:
		o.t.Fatalf("rolloutctl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), 0
}

// must runs a verb that has to succeed.
func (o operator) must(args ...string) string {
	o.t.Helper()
	out, code := o.run(30*time.Second, args...)
	require.Zero(o.t, code, "rolloutctl %s", strings.Join(args, " "))
	return out
}

// background starts rolloutctl (status, get -w) and returns a function that
// waits for it and gives its exit code, and one that ends it first; the process
// is killed at cleanup.
func (o operator) background(out *syncBuffer, args ...string) (wait func() int, stop func()) {
	o.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	o.t.Cleanup(cancel)
	cmd := o.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(o.t, cmd.Start())
	done := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			done <- exit.ExitCode()
		case err != nil:
			done <- -1
		default:
			done <- 0
		}
	}()
	wait = func() int {
		select {
		case code := <-done:
			return code
		case <-time.After(rolloutTimeout):
			o.t.Fatalf("rolloutctl %s did not end", strings.Join(args, " "))
			return -1
		}
	}
	return wait, func() { cancel(); wait() }
}

// syncBuffer collects a background command's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// gateSpec: two steps, each a manual gate, short intervals.
var gateSpec = map[string]string{
	"rolloutd.io/steps":    "20,40",
	"rolloutd.io/pause-at": "20,40",
	"rolloutd.io/interval": "4s",
}

// Given pause-at "20,40", when a healthy version is released, then the rollout
// waits in Paused at each gate, telling the operator to run promote, and goes on
// only after `rolloutctl promote`; `rolloutctl status` started with the release
// exits 0 once it is promoted, and `get -w` shows every frame of it.
func TestOperatorPauseAtGatesWaitForPromote(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := app{name: "web", replicas: 3, router: "nginx", rps: 200, annotations: gateSpec}
	a.create(t, env.Kube, ns)
	op := newOperator(t, env, ns)
	var watchOut, statusOut syncBuffer
	_, stopWatch := op.background(&watchOut, "get", a.name, "-w")

	release(t, env.Kube, ns, a.name, "example.com/web:v2", nil)
	statusDone, _ := op.background(&statusOut, "status", a.name, "--timeout", "3m")

	for _, w := range []int{20, 40} {
		st := waitPhase(t, env.Kube, ns, a.name, rolloutTimeout, contract.Paused)
		require.Equal(t, w, st.Weight, "message: %s", st.Message)
		assert.Contains(t, st.Message, "rolloutctl promote web")
		consistently(t, 6*time.Second, fmt.Sprintf("waits at %d%% for approval", w), func() error {
			now, _ := readStatus(t, env.Kube, ns, a.name)
			if now.Phase != contract.Paused || now.Weight != w {
				return fmt.Errorf("phase %s weight %d: %s", now.Phase, now.Weight, now.Message)
			}
			return nil
		})
		op.must("promote", a.name)
		framework.Eventually(t, 30*time.Second, fmt.Sprintf("promote consumed at %d%%", w), func() (bool, error) {
			now, d := readStatus(t, env.Kube, ns, a.name)
			_, pending := d.Annotations["rolloutd.io/command"]
			return !pending && now.Phase != contract.Paused, nil
		})
	}

	requireEnds(t, env.Kube, ns, a.name, rolloutTimeout, contract.Succeeded)
	assert.Zero(t, statusDone(), "status exits 0 for a promoted release:\n%s", statusOut.String())
	assert.Contains(t, statusOut.String(), "promoted")
	framework.Eventually(t, 30*time.Second, "get -w shows the end", func() (bool, error) {
		return strings.Contains(watchOut.String(), "Phase:      Succeeded"), nil
	})
	stopWatch()
	frames := watchOut.String()
	assert.Contains(t, frames, "Paused")
	assert.Contains(t, frames, "rolloutctl promote web")
	assert.Contains(t, frames, "Succeeded")
	if dir := os.Getenv("ROLLOUTD_E2E_ARTIFACTS"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "get-w.txt"), []byte(frames), 0o644))
	}
}

// Given a progressing rollout, `pause` holds it at its weight for longer than an
// interval, `resume` lets it take the next step, and `abort` rolls it back at
// once: phase Aborted with the operator's reason, weight 0, nothing generated left.
func TestOperatorPauseResumeAbort(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := app{name: "api", replicas: 3, router: "nginx", rps: 200,
		annotations: map[string]string{"rolloutd.io/interval": "4s"}}
	a.create(t, env.Kube, ns)
	op := newOperator(t, env, ns)

	release(t, env.Kube, ns, a.name, "example.com/api:v2", nil)
	framework.Eventually(t, time.Minute, "canary at 10%", func() (bool, error) {
		st, _ := readStatus(t, env.Kube, ns, a.name)
		return st.Phase == contract.Progressing && st.Weight == 10, nil
	})
	op.must("pause", a.name)
	held := waitPhase(t, env.Kube, ns, a.name, 30*time.Second, contract.Paused)
	assert.Contains(t, held.Message, "paused by ")
	consistently(t, 10*time.Second, "pause holds the weight beyond two intervals", func() error {
		st, _ := readStatus(t, env.Kube, ns, a.name)
		if st.Phase != contract.Paused || st.Weight != held.Weight {
			return fmt.Errorf("phase %s weight %d (held %d)", st.Phase, st.Weight, held.Weight)
		}
		return nil
	})

	op.must("resume", a.name)
	framework.Eventually(t, time.Minute, "resumed and took the next step", func() (bool, error) {
		st, _ := readStatus(t, env.Kube, ns, a.name)
		return st.Phase == contract.Progressing && st.Weight > held.Weight, nil
	})

	aborted := time.Now()
	op.must("abort", a.name, "--reason", "latency on the dashboard")
	st := waitPhase(t, env.Kube, ns, a.name, 30*time.Second, contract.Aborted)
	t.Logf("aborted %s after the command", time.Since(aborted).Round(time.Millisecond))
	assert.Zero(t, st.Weight)
	assert.Regexp(t, `^aborted by \S+: latency on the dashboard$`, st.Message)
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	assert.Equal(t, "example.com/api:v1", runningImage(t, env.Kube, ns, a.name), "the stable pods were never touched")
}

// Given a good and then a bad release, `status` exits 0 and 1; `history` lists the
// three revisions with their outcomes; `undo --to-revision 1` restores revision 1
// through a fast canary and `undo --to-revision 2 --now` restores revision 2 at
// once, each time with the stable pods running that revision's image.
func TestOperatorStatusHistoryUndo(t *testing.T) {
	t.Parallel()
	env, ns := watchedScenario(t)
	a := app{name: "shop", replicas: 3, router: "nginx", rps: 200,
		annotations: map[string]string{"rolloutd.io/steps": "20,50", "rolloutd.io/interval": "4s"}}
	a.create(t, env.Kube, ns)
	op := newOperator(t, env, ns)

	release(t, env.Kube, ns, a.name, "example.com/shop:v2", nil)
	out, code := op.run(rolloutTimeout, "status", a.name, "--timeout", "3m")
	require.Zero(t, code, "a good release:\n%s", out)
	framework.Eventually(t, time.Minute, "stable runs v2", func() (bool, error) {
		return runningImage(t, env.Kube, ns, a.name) == "example.com/shop:v2", nil
	})

	release(t, env.Kube, ns, a.name, "example.com/shop:bad", map[string]string{"sim.rolloutd.io/error-rate": "0.1"})
	out, code = op.run(rolloutTimeout, "status", a.name, "--timeout", "3m")
	require.Equal(t, 1, code, "a bad release:\n%s", out)
	assert.Contains(t, out, "error-rate")

	revs := historyOf(t, op, a.name)
	t.Logf("history:\n%s", op.must("history", a.name))
	require.GreaterOrEqual(t, len(revs), 3)
	byImage := map[string]historyRow{}
	for _, r := range revs {
		require.NotEmpty(t, r.Outcome, "revision %d", r.Number)
		byImage[strings.Join(r.Images, ",")] = r
	}
	assert.Equal(t, int64(1), byImage["example.com/shop:v1"].Number)
	assert.Equal(t, int64(2), byImage["example.com/shop:v2"].Number)
	assert.Equal(t, "running", byImage["example.com/shop:v2"].Outcome)
	assert.Contains(t, byImage["example.com/shop:bad"].Outcome, "rolled back")

	op.must("undo", a.name, "--to-revision", "1")
	st := waitUndo(t, env, ns, a.name, 1)
	assert.Equal(t, "Undone", st.Reason)
	assert.Contains(t, st.Message, "undo to revision 1")
	assert.Contains(t, st.Message, "after a fast canary")
	assert.Equal(t, 1, st.Steps, "the fast canary has one step")
	requireStablePodsRun(t, env, ns, a.name, "example.com/shop:v1")
	requireNoCanaryObjects(t, env.Kube, ns, a.name)
	after := map[string]string{}
	for _, r := range historyOf(t, op, a.name) {
		after[r.Template] = r.Outcome
	}
	t.Logf("history after the undo:\n%s", op.must("history", a.name))
	assert.Equal(t, "promoted", after[byImage["example.com/shop:v2"].Template], "recorded by rolloutd")
	assert.Contains(t, after[byImage["example.com/shop:bad"].Template], "rolled back: ")
	assert.Contains(t, after[byImage["example.com/shop:bad"].Template], "error-rate")
	assert.Contains(t, after[byImage["example.com/shop:v1"].Template], "running")

	op.must("undo", a.name, "--to-revision", "2", "--now")
	st = waitUndo(t, env, ns, a.name, 2)
	assert.Equal(t, "Undone", st.Reason)
	assert.Contains(t, st.Message, "without a canary")
	_, d := readStatus(t, env.Kube, ns, a.name)
	assert.True(t, d.Spec.Paused, "paused again")
	requireStablePodsRun(t, env, ns, a.name, "example.com/shop:v2")
}

// waitUndo waits until the undo to revision has ended and requires it promoted.
func waitUndo(t *testing.T, env *framework.Env, ns, name string, revision int64) contract.Status {
	t.Helper()
	var st contract.Status
	framework.Eventually(t, rolloutTimeout, fmt.Sprintf("undo to revision %d ended", revision), func() (bool, error) {
		st, _ = readStatus(t, env.Kube, ns, name)
		if st.Undo == nil || st.Undo.Revision != revision {
			return false, fmt.Errorf("undo not started: phase %s: %s", st.Phase, st.Message)
		}
		return !st.Phase.Active(), fmt.Errorf("phase %s: %s", st.Phase, st.Message)
	})
	require.Equal(t, contract.Succeeded, st.Phase, "message: %s", st.Message)
	return st
}

// historyRow is one item of `rolloutctl history -o json`.
type historyRow struct {
	Number   int64    `json:"revision"`
	Template string   `json:"template"`
	Images   []string `json:"images"`
	Outcome  string   `json:"outcome"`
}

func historyOf(t *testing.T, op operator, name string) []historyRow {
	t.Helper()
	var doc struct {
		Items []historyRow `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(op.must("history", name, "-o", "json")), &doc))
	return doc.Items
}

// requireStablePodsRun waits until every live pod of the Deployment's newest
// ReplicaSet runs image and there are as many as the Deployment wants.
func requireStablePodsRun(t *testing.T, env *framework.Env, ns, name, image string) {
	t.Helper()
	framework.Eventually(t, time.Minute, "stable pods run "+image, func() (bool, error) {
		if runningImage(t, env.Kube, ns, name) != image {
			return false, nil
		}
		_, d := readStatus(t, env.Kube, ns, name)
		pods, err := env.Kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return false, err
		}
		n := int32(0)
		for _, p := range pods.Items {
			if p.Labels["rolloutd.io/canary-of"] != "" || p.DeletionTimestamp != nil {
				continue
			}
			if got := p.Spec.Containers[0].Image; got != image {
				return false, fmt.Errorf("pod %s runs %s", p.Name, got)
			}
			n++
		}
		return n == *d.Spec.Replicas, nil
	})
}
