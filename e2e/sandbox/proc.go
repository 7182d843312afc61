package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pidRecord identifies one process across PID reuse: the PID and the start
// time the kernel reports for it (clock ticks since boot). A PID file whose
// start time no longer matches names some other, unrelated process.
type pidRecord struct {
	PID   int
	Start uint64
}

// procStat reads a process's state letter and start time from /proc.
func procStat(pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: parse
	// after the last ')'. Fields from there: 3=state ... 22=starttime.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat start time: %w", pid, err)
	}
	return f[0][0], start, nil
}

// recordOf captures the identity of a live process.
func recordOf(pid int) (pidRecord, error) {
	_, start, err := procStat(pid)
	if err != nil {
		return pidRecord{}, fmt.Errorf("read process %d: %w", pid, err)
	}
	return pidRecord{PID: pid, Start: start}, nil
}

// running reports whether the recorded process still exists (zombies count as
// gone) and is the same process that was recorded.
func (r pidRecord) running() bool {
	if r.PID <= 0 {
		return false
	}
	state, start, err := procStat(r.PID)
	if err != nil || state == 'Z' || state == 'X' {
		return false
	}
	return r.Start == 0 || r.Start == start
}

// stop sends SIGTERM, waits up to grace for the process to exit, then sends
// SIGKILL and waits again. It returns nil once the process is gone.
func (r pidRecord) stop(grace time.Duration) error {
	if !r.running() {
		return nil
	}
	_ = syscall.Kill(r.PID, syscall.SIGTERM)
	if r.waitGone(grace) {
		return nil
	}
	_ = syscall.Kill(r.PID, syscall.SIGKILL)
	if r.waitGone(5 * time.Second) {
		return nil
	}
	return fmt.Errorf("process %d survived SIGKILL", r.PID)
}

func (r pidRecord) waitGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for r.running() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// pidFiles manages the folder of PID files, one per named process.
type pidFiles struct{ dir string }

func (p pidFiles) path(name string) string { return filepath.Join(p.dir, name+".pid") }

// write records pid under name.
func (p pidFiles) write(name string, pid int) error {
	rec, err := recordOf(pid)
	if err != nil {
		return err
	}
	data := fmt.Sprintf("%d %d\n", rec.PID, rec.Start)
	if err := os.WriteFile(p.path(name), []byte(data), 0o644); err != nil {
		return fmt.Errorf("write pid file for %s: %w", name, err)
	}
	return nil
}

// read returns the record under name; a missing file gives a zero record.
func (p pidFiles) read(name string) (pidRecord, error) {
	b, err := os.ReadFile(p.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return pidRecord{}, nil
	}
	if err != nil {
		return pidRecord{}, fmt.Errorf("read pid file for %s: %w", name, err)
	}
	return parsePidFile(string(b))
}

// parsePidFile accepts "PID START" and a bare "PID" (kwokctl's format).
func parsePidFile(s string) (pidRecord, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return pidRecord{}, errors.New("empty pid file")
	}
	var rec pidRecord
	var err error
	if rec.PID, err = strconv.Atoi(f[0]); err != nil {
		return pidRecord{}, fmt.Errorf("bad pid %q: %w", f[0], err)
	}
	if len(f) > 1 {
		if rec.Start, err = strconv.ParseUint(f[1], 10, 64); err != nil {
			return pidRecord{}, fmt.Errorf("bad start time %q: %w", f[1], err)
		}
	}
	return rec, nil
}

// running reports whether the process recorded under name is alive.
func (p pidFiles) running(name string) bool {
	rec, err := p.read(name)
	return err == nil && rec.running()
}

// names lists the processes with a PID file.
func (p pidFiles) names() ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(p.dir, "*.pid"))
	if err != nil {
		return nil, fmt.Errorf("list pid files: %w", err)
	}
	out := make([]string, 0, len(matches))
	for _, m := range matches {
		out = append(out, strings.TrimSuffix(filepath.Base(m), ".pid"))
	}
	return out, nil
}

// stop stops the process recorded under name and removes its PID file.
func (p pidFiles) stop(name string, grace time.Duration) error {
	rec, err := p.read(name)
	if err != nil {
		return err
	}
	if err := rec.stop(grace); err != nil {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	if err := os.Remove(p.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove pid file for %s: %w", name, err)
	}
	return nil
}

// procSpec describes a process to start in the background.
type procSpec struct {
	Name string   // PID file and log file name
	Path string   // absolute path of the binary
	Args []string // arguments after the program name
	Env  []string // extra environment, appended to ours
	Log  string   // file receiving stdout and stderr
}

// start launches spec in its own session, so that it outlives the command
// that started it and a terminal's Ctrl-C does not reach it, and records its
// PID.
func (p pidFiles) start(spec procSpec) (int, error) {
	logf, err := os.OpenFile(spec.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("start %s: open log: %w", spec.Name, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n==== %s %s %s\n", time.Now().Format(time.RFC3339), spec.Path, strings.Join(spec.Args, " "))
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	pid := cmd.Process.Pid
	if err := p.write(spec.Name, pid); err != nil {
		_ = cmd.Process.Kill()
		return 0, err
	}
	// Reap the child if it exits while we are still running; otherwise it is
	// re-parented when we exit.
	go func() { _ = cmd.Wait() }()
	return pid, nil
}
