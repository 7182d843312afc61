package harness

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Pid is the daemon's process id.
func (d *Daemon) Pid() int { return d.r.PID() }

// Memory returns the kB fields of the daemon's /proc/<pid>/status in MiB: VmRSS,
// VmHWM (peak RSS), RssAnon (heap and stacks), RssFile (pages of the binary mapped
// from the page cache).
func (d *Daemon) Memory() map[string]float64 { return ProcMemory(d.Pid()) }

// ProcMemory is Memory for any process.
func ProcMemory(pid int) map[string]float64 {
	out := map[string]float64{}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		if kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64); err == nil {
			out[k] = kb / 1024
		}
	}
	return out
}

// CPUSeconds is the daemon's user plus system CPU time.
func (d *Daemon) CPUSeconds() float64 { return ProcCPUSeconds(d.Pid()) }

// ProcCPUSeconds is CPUSeconds for any process.
func ProcCPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the ")" closing the command name; utime and stime are 14 and 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100 // USER_HZ
}
