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
	p := &process{name: "sh"}
	for _, word := range []string{"first", "second"} {
		require.NoError(t, p.start(exec.Command("sh", "-c", "echo "+word+"; echo "+word+"-err >&2"), logPath, "TestX"))
		require.NoError(t, Poll(context.Background(), 5*time.Second, func() (bool, error) { return !p.running(), nil }))
	}
	b, err := os.ReadFile(logPath)
	require.NoError(t, err)
	assert.Regexp(t, `(?s)^\n==== \S+ start TestX\nfirst\nfirst-err\n\n==== \S+ start TestX\nsecond\nsecond-err\n$`, string(b))
}

func TestProcessStartNamesTheLogItCannotOpen(t *testing.T) {
	p := &process{name: "sh"}
	err := p.start(exec.Command("true"), filepath.Join(t.TempDir(), "missing", "p.log"), "TestX")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "start sh: open log:")
	assert.False(t, p.running())
}

func TestProcessWaitReady(t *testing.T) {
	for _, tc := range []struct {
		name        string
		script      string
		ready       bool
		wantErr     string // empty: no error
		wantRunning bool
	}{
		{name: "returns once ready holds", script: "sleep 30", ready: true, wantRunning: true},
		{name: "names the exit of a process that dies", script: "exit 3", wantErr: "sh exited: exit status 3"},
		{name: "leaves a process that is never ready running", script: "sleep 30", wantErr: assert.AnError.Error(), wantRunning: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &process{name: "sh"}
			require.NoError(t, p.start(exec.Command("sh", "-c", tc.script), filepath.Join(t.TempDir(), "p.log"), t.Name()))
			t.Cleanup(func() { p.signal(syscall.SIGKILL, 5*time.Second) })
			err := p.waitReady(context.Background(), time.Second, func() (bool, error) {
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
			assert.Equal(t, tc.wantRunning, p.running())
		})
	}
}

func TestProcessSignalStopsItAndReportsAProcessNeverStartedAsGone(t *testing.T) {
	p := &process{name: "sh"}
	assert.True(t, p.signal(syscall.SIGTERM, time.Second), "never started")
	assert.Zero(t, p.pid())

	require.NoError(t, p.start(exec.Command("sleep", "30"), filepath.Join(t.TempDir(), "p.log"), t.Name()))
	assert.NotZero(t, p.pid())
	require.True(t, p.running())
	assert.True(t, p.signal(syscall.SIGTERM, 5*time.Second))
	assert.False(t, p.running())
}
