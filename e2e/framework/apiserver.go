package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rolloutd/rolloutd/e2e/sandbox"
)

// APIServerReadyTimeout bounds how long StartAPIServer and APIServer.Start
// wait for /readyz.
const APIServerReadyTimeout = 90 * time.Second

// APIServer is a second kube-apiserver on the sandbox's etcd, run for one
// test: several apiservers on one etcd is Kubernetes' usual highly available
// layout. Killing it cuts off only the clients pointed at its Kubeconfig; the
// sandbox's own apiserver, which the cluster's controllers and every other
// test use, keeps running. Both renew the same identity Lease in kube-system
// (its name derives from the host name), so each logs an occasional conflict
// on it; nothing in the sandbox reads that Lease.
type APIServer struct {
	// Kubeconfig is an admin kubeconfig file for this apiserver: the
	// sandbox's credentials, this server's address.
	Kubeconfig string
	// Addr is its host:port.
	Addr string

	t       testing.TB
	bin     string
	args    []string
	dir     string
	logPath string
	kube    kubernetes.Interface
	proc    Process
}

// StartAPIServer starts another kube-apiserver with the sandbox apiserver's
// own flags (read from its running process) on a free loopback port, writes a
// kubeconfig for it and waits for /readyz. The process is killed at cleanup;
// if the test failed, its log tail is written to the test log.
func (e *Env) StartAPIServer(t testing.TB) *APIServer {
	t.Helper()
	argv, err := sandboxAPIServerArgs(e.layout.PidDir())
	if err != nil {
		t.Fatalf("start a second kube-apiserver: %v", err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("start a second kube-apiserver: %v", err)
	}
	a := &APIServer{
		Addr: fmt.Sprintf("127.0.0.1:%d", port),
		t:    t,
		bin:  argv[0],
		args: withFlag(argv[1:], "secure-port", strconv.Itoa(port)),
		dir:  t.TempDir(),
		proc: Process{Name: "kube-apiserver"},
	}
	a.logPath = filepath.Join(e.layout.LogDir(), fmt.Sprintf("kube-apiserver-%s-%d.log", namespaceName(t.Name()), port))
	a.Kubeconfig = filepath.Join(a.dir, "kubeconfig")
	if err := writeKubeconfigFor(e.Kubeconfig, a.Kubeconfig, "https://"+a.Addr); err != nil {
		t.Fatalf("start a second kube-apiserver: %v", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", a.Kubeconfig)
	if err != nil {
		t.Fatalf("start a second kube-apiserver: load %s: %v", a.Kubeconfig, err)
	}
	if a.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatalf("start a second kube-apiserver: client: %v", err)
	}
	t.Cleanup(func() {
		a.Kill()
		if t.Failed() {
			t.Logf("==== kube-apiserver %s log (%s), last lines:\n%s", a.Addr, a.logPath, sandbox.TailFile(a.logPath, 40))
		}
	})
	a.Start()
	return a
}

// sandboxAPIServerArgs reads the command line of the sandbox's running
// kube-apiserver from /proc, finding it by its PID file.
func sandboxAPIServerArgs(pidDir string) ([]string, error) {
	pidFile := filepath.Join(pidDir, "kube-apiserver.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return nil, fmt.Errorf("find the sandbox's kube-apiserver: %w (run `make sandbox`)", err)
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return nil, fmt.Errorf("find the sandbox's kube-apiserver: %s is empty", pidFile)
	}
	pid, err := strconv.Atoi(fields[0])
	if err != nil {
		return nil, fmt.Errorf("find the sandbox's kube-apiserver: %s: %w", pidFile, err)
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, fmt.Errorf("read the sandbox's kube-apiserver command line (PID %d from %s): %w", pid, pidFile, err)
	}
	argv := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	if filepath.Base(argv[0]) != "kube-apiserver" {
		return nil, fmt.Errorf("PID %d from %s is %q, not the sandbox's kube-apiserver (run `make sandbox`)", pid, pidFile, argv[0])
	}
	return argv, nil
}

// withFlag returns args with every --name flag (as --name=v or --name v)
// replaced by one --name=value.
func withFlag(args []string, name, value string) []string {
	flag := "--" + name
	out := make([]string, 0, len(args)+1)
	for i := 0; i < len(args); i++ {
		switch {
		case strings.HasPrefix(args[i], flag+"="):
		case args[i] == flag:
			i++ // skip its value too
		default:
			out = append(out, args[i])
		}
	}
	return append(out, flag+"="+value)
}

// writeKubeconfigFor copies the kubeconfig at src to dst with every cluster's
// server set to server.
func writeKubeconfigFor(src, dst, server string) error {
	cfg, err := clientcmd.LoadFromFile(src)
	if err != nil {
		return fmt.Errorf("load kubeconfig %s: %w", src, err)
	}
	if len(cfg.Clusters) == 0 {
		return fmt.Errorf("kubeconfig %s names no cluster", src)
	}
	for _, c := range cfg.Clusters {
		c.Server = server
	}
	if err := clientcmd.WriteToFile(*cfg, dst); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", dst, err)
	}
	return nil
}

// startAttempts bounds how often Start launches a kube-apiserver that exits
// before it is ready.
const startAttempts = 3

// Start launches the process on its port and waits for /readyz; after Kill it
// starts it again with the same flags. A kube-apiserver can exit while it
// starts, when its ClusterIP repair hook races the sandbox's apiserver
// allocating the address of a Service another test creates at that instant
// ("PostStartHook start-service-ip-repair-controllers failed: unable to perform
// initial IP and Port allocation check"); like a kubelet restarting a static
// pod, Start launches it again, within the same APIServerReadyTimeout.
func (a *APIServer) Start() {
	a.t.Helper()
	if a.Running() {
		a.t.Fatalf("kube-apiserver on %s is already running", a.Addr)
	}
	deadline := time.Now().Add(APIServerReadyTimeout)
	for attempt := 1; ; attempt++ {
		cmd := exec.Command(a.bin, a.args...)
		cmd.Dir = a.dir
		if err := a.proc.Start(cmd, a.logPath, a.t.Name()); err != nil {
			a.t.Fatal(err)
		}
		err := a.proc.WaitReady(a.t.Context(), time.Until(deadline), a.ready)
		if err == nil {
			return
		}
		if !a.Running() && attempt < startAttempts && time.Until(deadline) > 10*time.Second {
			a.t.Logf("kube-apiserver on %s exited while starting (%v); starting it again", a.Addr, err)
			continue
		}
		a.t.Fatalf("kube-apiserver on %s not ready within %v: %v (log %s)\n%s",
			a.Addr, APIServerReadyTimeout, err, a.logPath, sandbox.TailFile(a.logPath, 40))
	}
}

func (a *APIServer) ready() (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	body, err := a.kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return false, fmt.Errorf("/readyz: %w", err)
	}
	if string(body) != "ok" {
		return false, errors.New("/readyz: " + string(body))
	}
	return true, nil
}

// Kill sends SIGKILL, as a crash would, and waits for the process to exit.
func (a *APIServer) Kill() {
	if !a.proc.Signal(syscall.SIGKILL, 10*time.Second) {
		a.t.Errorf("kube-apiserver on %s (PID %d) still running 10s after SIGKILL", a.Addr, a.proc.PID())
	}
}

// Running reports whether the process is alive.
func (a *APIServer) Running() bool { return a.proc.Running() }

// LogPath is the apiserver's log file (all its runs).
func (a *APIServer) LogPath() string { return a.logPath }
