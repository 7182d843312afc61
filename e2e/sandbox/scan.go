package sandbox

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// componentNames are the program names the sandbox runs. A process counts as
// ours only if its name is one of these and its command line mentions our
// sandbox folder, so another checkout's sandbox is never touched.
var componentNames = []string{
	"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
	"kwok", "kwok-controller", "kwokctl", "prometheus", "prometheus-alertmanager",
	"alertmanager", "rolloutd-sim", "rolloutd",
}

// procInfo is what the scan learns about one process.
type procInfo struct {
	PID     int
	Name    string // base name of argv[0]
	Cmdline string // argv joined by spaces
}

func (p procInfo) String() string {
	cmd := p.Cmdline
	if len(cmd) > 120 {
		cmd = cmd[:120] + "..."
	}
	return fmt.Sprintf("pid %d %s", p.PID, cmd)
}

// isOurs reports whether p is a sandbox component started for sandboxDir.
func isOurs(p procInfo, sandboxDir string, names []string) bool {
	return slices.Contains(names, p.Name) && strings.Contains(p.Cmdline, sandboxDir+string(filepath.Separator))
}

// listProcesses reads every process's command line from /proc.
func listProcesses() ([]procInfo, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue // gone, or a kernel thread
		}
		args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
		out = append(out, procInfo{PID: pid, Name: filepath.Base(args[0]), Cmdline: strings.Join(args, " ")})
	}
	return out, nil
}

// ourProcesses lists the live (non-zombie) processes of sandboxDir named one
// of names.
func ourProcesses(sandboxDir string, names []string) ([]procInfo, error) {
	all, err := listProcesses()
	if err != nil {
		return nil, err
	}
	var out []procInfo
	for _, p := range all {
		if isOurs(p, sandboxDir, names) && (pidRecord{PID: p.PID}).running() {
			out = append(out, p)
		}
	}
	return out, nil
}

// killStrays stops every process of sandboxDir named one of names that is
// still running (SIGTERM, then SIGKILL after grace) and returns those it found.
func killStrays(sandboxDir string, names []string, grace time.Duration) ([]procInfo, error) {
	strays, err := ourProcesses(sandboxDir, names)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, p := range strays {
		rec, err := recordOf(p.PID)
		if err != nil {
			continue // exited meanwhile
		}
		if err := rec.stop(grace); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
	}
	if len(errs) > 0 {
		return strays, fmt.Errorf("stop leftover processes: %v", errs)
	}
	return strays, nil
}
