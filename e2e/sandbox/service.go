package sandbox

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// service is a sandbox process we start ourselves (not through kwokctl) and
// check over HTTP.
type service struct {
	name      string // PID and log file name
	addr      string // host:port it listens on
	readyPath string // HTTP path answering 200 when ready
	// prepare writes configuration before a start.
	prepare func() error
	// spec describes the process to start.
	spec func() (procSpec, error)
	// refresh, if set, brings a running instance's configuration up to date.
	refresh func(ctx context.Context) error
}

func (s service) url() string { return "http://" + s.addr }

// ready asks the service's readiness endpoint.
func (s service) ready(ctx context.Context) error {
	return httpOK(ctx, s.url()+s.readyPath)
}

// ensure leaves a ready, tracked instance started with the same command line
// alone (refreshing its configuration) and otherwise (re)starts the service.
// It reports whether it started a new process.
func (s service) ensure(ctx context.Context, l Layout) (bool, error) {
	pf := pidFiles{dir: l.PidDir()}
	spec, err := s.spec()
	if err != nil {
		return false, err
	}
	if rec, _ := pf.read(s.name); rec.running() && sameCommand(rec.PID, spec) {
		// Slow under load is not dead: wait a while before restarting.
		if poll(ctx, 30*time.Second, s.name+" to answer", s.ready) == nil {
			if s.refresh != nil {
				return false, s.refresh(ctx)
			}
			return false, nil
		}
	}
	if err := pf.stop(s.name, 10*time.Second); err != nil {
		return false, err
	}
	if err := checkPortFree(s.addr, s.name); err != nil {
		return false, err
	}
	if s.prepare != nil {
		if err := s.prepare(); err != nil {
			return false, fmt.Errorf("prepare %s: %w", s.name, err)
		}
	}
	spec.Name = s.name
	spec.Log = filepath.Join(l.LogDir(), s.name+".log")
	if _, err := pf.start(spec); err != nil {
		return false, err
	}
	err = poll(ctx, 30*time.Second, s.name+" to become ready", func(ctx context.Context) error {
		if !pf.running(s.name) {
			return permanent{fmt.Errorf("%s exited", s.name)}
		}
		return s.ready(ctx)
	})
	if err != nil {
		return true, withLogTails(fmt.Errorf("start %s: %w", s.name, err), spec.Log)
	}
	return true, nil
}

// sameCommand reports whether process pid runs spec's binary and arguments.
func sameCommand(pid int, spec procSpec) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	want := strings.Join(append([]string{spec.Path}, spec.Args...), "\x00") + "\x00"
	return string(raw) == want
}

// httpOK fails unless a GET of url answers 200 within a second.
func httpOK(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return GetOK(ctx, url)
}

// GetOK fails unless a GET of url answers 200; the error carries the start of
// any other answer's body.
func GetOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return nil
}

// Reload asks Prometheus or Alertmanager (base URL) to reload its
// configuration; they answer non-200 with the reason when it is invalid.
func Reload(ctx context.Context, baseURL string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/-/reload", nil)
	if err != nil {
		return fmt.Errorf("reload %s: %w", baseURL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reload %s: %w", baseURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reload %s: %s: %s", baseURL, resp.Status, body)
	}
	return nil
}
