package sandbox

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func startSleeper(t *testing.T, pf pidFiles, path string) int {
	t.Helper()
	pid, err := pf.start(procSpec{Name: "sleeper", Path: path, Args: []string{"60"}, Log: filepath.Join(t.TempDir(), "sleeper.log")})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = pidRecord{PID: pid}.stop(time.Second) })
	return pid
}

func sleepBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	return p
}

func TestStartedProcessIsTrackedAndStopped(t *testing.T) {
	pf := pidFiles{dir: t.TempDir()}
	pid := startSleeper(t, pf, sleepBinary(t))
	if !pf.running("sleeper") {
		t.Fatalf("process %d not reported running", pid)
	}
	if names, _ := pf.names(); len(names) != 1 || names[0] != "sleeper" {
		t.Fatalf("names = %v, want [sleeper]", names)
	}
	if err := pf.stop("sleeper", 2*time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if (pidRecord{PID: pid}).running() {
		t.Fatalf("process %d still running after stop", pid)
	}
	if _, err := os.Stat(pf.path("sleeper")); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
	if err := pf.stop("sleeper", time.Second); err != nil {
		t.Fatalf("second stop must be harmless: %v", err)
	}
}

func TestReusedPIDIsNotOurs(t *testing.T) {
	pf := pidFiles{dir: t.TempDir()}
	pid := startSleeper(t, pf, sleepBinary(t))
	rec, err := pf.read("sleeper")
	if err != nil {
		t.Fatal(err)
	}
	// Same PID, other start time: the PID now names an unrelated process.
	stale := pidRecord{PID: pid, Start: rec.Start + 1}
	if stale.running() {
		t.Fatal("a PID with another start time must not count as ours")
	}
	if err := stale.stop(time.Second); err != nil {
		t.Fatal(err)
	}
	if !rec.running() {
		t.Fatal("stopping a stale record must not kill the process now holding the PID")
	}
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	pf := pidFiles{dir: t.TempDir()}
	// A shell that ignores SIGTERM. The marker is quoted so that the log
	// header, which repeats the arguments, does not contain it.
	logPath := filepath.Join(t.TempDir(), "log")
	pid, err := pf.start(procSpec{Name: "stubborn", Path: "/bin/sh",
		Args: []string{"-c", "trap '' TERM; echo tr\"\"apped; while :; do sleep 0.1; done"}, Log: logPath})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(TailFile(logPath, 1), "trapped"); {
		if time.Now().After(deadline) {
			t.Fatal("shell did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	begin := time.Now()
	if err := pf.stop("stubborn", 300*time.Millisecond); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if (pidRecord{PID: pid}).running() {
		t.Fatal("still running")
	}
	if time.Since(begin) < 300*time.Millisecond {
		t.Fatal("SIGKILL sent before the grace period ended")
	}
}

func TestParsePidFile(t *testing.T) {
	tests := []struct {
		in      string
		want    pidRecord
		wantErr bool
	}{
		{in: "123 456\n", want: pidRecord{PID: 123, Start: 456}},
		{in: "789\n", want: pidRecord{PID: 789}},
		{in: "", wantErr: true},
		{in: "abc", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parsePidFile(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parsePidFile(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestIsOurs(t *testing.T) {
	dir := "/repo/.sandbox"
	tests := []struct {
		name string
		p    procInfo
		want bool
	}{
		{"apiserver of this sandbox", procInfo{Name: "kube-apiserver", Cmdline: "/cache/bin/kube-apiserver --tls-cert-file=/repo/.sandbox/kwok/pki/admin.crt"}, true},
		{"another checkout's sandbox", procInfo{Name: "kube-apiserver", Cmdline: "/cache/bin/kube-apiserver --tls-cert-file=/other/.sandbox/kwok/pki/admin.crt"}, false},
		{"a sibling folder with the same prefix", procInfo{Name: "etcd", Cmdline: "etcd --data-dir=/repo/.sandbox2/etcd"}, false},
		{"an editor on a sandbox file", procInfo{Name: "vim", Cmdline: "vim /repo/.sandbox/env"}, false},
		{"simulator", procInfo{Name: "rolloutd-sim", Cmdline: "/repo/.sandbox/bin/rolloutd-sim --listen 127.0.0.1:9101"}, true},
	}
	for _, tt := range tests {
		if got := isOurs(tt.p, dir, componentNames); got != tt.want {
			t.Errorf("%s: isOurs = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestKillStraysFindsUntrackedProcesses(t *testing.T) {
	sandboxDir := filepath.Join(t.TempDir(), ".sandbox")
	bin := filepath.Join(sandboxDir, "bin", "rolloutd-sim")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sleepBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	pid := startSleeper(t, pidFiles{dir: t.TempDir()}, bin)
	found, err := killStrays(sandboxDir, componentNames, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].PID != pid || !strings.HasSuffix(found[0].Name, "rolloutd-sim") {
		t.Fatalf("found %v, want only pid %d", found, pid)
	}
	if left, _ := ourProcesses(sandboxDir, componentNames); len(left) != 0 {
		t.Fatalf("left running: %v", left)
	}
}

func TestFailedStartReportsTheLogTailAtOnce(t *testing.T) {
	dir := t.TempDir()
	l := Layout{RepoRoot: dir, Dir: filepath.Join(dir, ".sandbox")}
	if err := l.mkdirs(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := service{
		name: "broken", addr: addr, readyPath: "/",
		spec: func() (procSpec, error) {
			return procSpec{Path: "/bin/sh", Args: []string{"-c", "echo config error: bad thing; exit 3"}}, nil
		},
	}
	begin := time.Now()
	_, err = s.ensure(t.Context(), l)
	if err == nil || !strings.Contains(err.Error(), "config error: bad thing") {
		t.Fatalf("ensure error = %v, want the log tail", err)
	}
	if time.Since(begin) > 5*time.Second {
		t.Fatalf("took %s to notice the exit", time.Since(begin))
	}
}
