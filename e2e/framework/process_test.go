package framework

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcessAppendsAHeaderAndItsOutputToTheLog(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "p.log")
	p := &Process{Name: "sh"}
	for _, word := range []string{"first", "second"} {
		require.NoError(t, p.Start(exec.Command("sh", "-c", "echo "+word+"; echo "+word+"-err >&2"), logPath, "TestX"))
		require.NoError(t, Poll(context.Background(), 5*time.Second, func() (bool, error) { return !p.Running(), nil }))
	}
	b, err := os.ReadFile(logPath)
	require.NoError(t, err)
	assert.Regexp(t, `(?s)^\n==== \S+ start TestX\nfirst\nfirst-err\n\n==== \S+ start TestX\nsecond\nsecond-err\n$`, string(b))
}

func TestProcessStartNamesTheLogItCannotOpen(t *testing.T) {
	p := &Process{Name: "sh"}
	err := p.Start(exec.Command("true"), filepath.Join(t.TempDir(), "missing", "p.log"), "TestX")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "start sh: open log:")
	assert.False(t, p.Running())
}

func TestProcessWaitReady(t *testing.T) {
	for _, tc := range []struct {
		name        string
		script      string
		ready       bool
		timeout     time.Duration
		wantErr     string // empty: no error
		wantRunning bool
	}{
		{name: "returns once ready holds", script: "sleep 30", ready: true, timeout: time.Second, wantRunning: true},
		{name: "names the exit of a process that dies", script: "exit 3", timeout: time.Second, wantErr: "sh exited: exit status 3"},
		// Returning at all shows the exit was noticed: the hour is never waited.
		{name: "returns at the exit, not at the timeout", script: "sleep 0.2; exit 4", timeout: time.Hour, wantErr: "sh exited: exit status 4"},
		{name: "leaves a process that is never ready running", script: "sleep 30", timeout: time.Second, wantErr: assert.AnError.Error(), wantRunning: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Process{Name: "sh"}
			require.NoError(t, p.Start(exec.Command("sh", "-c", tc.script), filepath.Join(t.TempDir(), "p.log"), t.Name()))
			t.Cleanup(func() { p.Signal(syscall.SIGKILL, 5*time.Second) })
			err := p.WaitReady(context.Background(), tc.timeout, func() (bool, error) {
				if tc.ready {
					return true, nil
				}
				return false, assert.AnError
			})
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
			}
			assert.Equal(t, tc.wantRunning, p.Running())
		})
	}
}

func TestProcessSignalStopsItAndReportsAProcessNeverStartedAsGone(t *testing.T) {
	p := &Process{Name: "sh"}
	assert.True(t, p.Signal(syscall.SIGTERM, time.Second), "never started")
	assert.Zero(t, p.PID())

	require.NoError(t, p.Start(exec.Command("sleep", "30"), filepath.Join(t.TempDir(), "p.log"), t.Name()))
	assert.NotZero(t, p.PID())
	require.True(t, p.Running())
	assert.True(t, p.Signal(syscall.SIGTERM, 5*time.Second))
	assert.False(t, p.Running())
}
