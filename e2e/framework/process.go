package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is a child of the test binary or of a benchmark program with its
// output appended to a log file: the rolloutd of a Daemon (here or in
// e2e/bench/harness) or the kube-apiserver of an APIServer. It can be started
// again after it exits.
type Process struct {
	Name string // in messages, e.g. "rolloutd"

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Start appends a line naming test to the log at logPath and starts cmd with
// its stdout and stderr going to that log. The process is killed if the test
// binary dies.
func (p *Process) Start(cmd *exec.Cmd, logPath, test string) error {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: open log: %w", p.Name, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n==== %s start %s\n", time.Now().Format(time.RFC3339Nano), test)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	return nil
}

// WaitReady polls ready until it reports true; it fails when timeout passes
// or ctx ends, with ready's last error, or as soon as the process exits, with
// its exit status. It leaves a running process running either way.
func (p *Process) WaitReady(ctx context.Context, timeout time.Duration, ready func() (bool, error)) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-done:
			cancel() // a process that exited never becomes ready
		case <-ctx.Done():
		}
	}()
	exited := func() error {
		select {
		case <-done:
			return fmt.Errorf("%s exited: %s", p.Name, cmd.ProcessState)
		default:
			return nil
		}
	}
	err := Poll(ctx, timeout, func() (bool, error) {
		if err := exited(); err != nil {
			return false, err
		}
		return ready()
	})
	if err != nil {
		if gone := exited(); gone != nil {
			return gone
		}
	}
	return err
}

// Running reports whether the process is alive.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Signal sends sig and waits up to timeout for the exit; it reports whether
// the process is gone (true if it was never started).
func (p *Process) Signal(sig syscall.Signal, timeout time.Duration) bool {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return true
	}
	select {
	case <-done:
		return true
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// PID is the process ID of the last start, 0 before the first.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
