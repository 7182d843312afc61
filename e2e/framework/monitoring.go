package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rolloutd/rolloutd/e2e/sandbox"
)

// registerTarget adds addr to Prometheus' file_sd targets for the daemon job
// (labelled with the test name) and returns the file to remove at cleanup.
func (e *Env) registerTarget(t testing.TB, addr string) string {
	t.Helper()
	groups := []map[string]any{{
		"targets": []string{addr},
		"labels":  map[string]string{"test": t.Name()},
	}}
	b, err := json.Marshal(groups)
	if err != nil {
		t.Fatalf("register scrape target: %v", err)
	}
	path := filepath.Join(e.layout.PrometheusTargetsDir(), "rolloutd-"+sanitize(addr)+".json")
	if err := writeFileAtomic(path, b); err != nil {
		t.Fatalf("register scrape target: %v", err)
	}
	return path
}

// WriteRule writes a Prometheus rule file (YAML with `groups:`) named name and
// reloads Prometheus, failing the test if Prometheus rejects it. The file is
// removed, and Prometheus reloaded, at cleanup. Use the test's namespace in
// name so that parallel tests do not overwrite each other.
func (e *Env) WriteRule(t testing.TB, name, yaml string) {
	t.Helper()
	path := filepath.Join(e.layout.PrometheusRulesDir(), sanitize(name)+".yml")
	if err := writeFileAtomic(path, []byte(yaml)); err != nil {
		t.Fatalf("write rule %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = os.Remove(path)
		if err := sandbox.Reload(context.Background(), e.PromURL); err != nil {
			t.Errorf("reload prometheus after removing rule %s: %v", name, err)
		}
	})
	if err := sandbox.Reload(t.Context(), e.PromURL); err != nil {
		t.Fatalf("prometheus rejected rule %s: %v", name, err)
	}
}

// SetAlertmanagerWebhook points Alertmanager's receiver at url with the bearer
// token read from tokenFile (empty: the sandbox's default token file) and
// restores the previous configuration at cleanup.
//
// Alertmanager has one receiver for the whole sandbox, so tests that call this
// are serialised: a file lock is held from the call until cleanup, and a
// second test calling it (in this or another test binary) waits for it. Tests
// that do not call it may see their alerts sent to another test's receiver
// meanwhile.
func (e *Env) SetAlertmanagerWebhook(t testing.TB, url, tokenFile string) {
	t.Helper()
	if tokenFile == "" {
		tokenFile = e.WebhookTokenFile
	}
	unlock := e.lockWebhook(t)
	cfgPath := e.layout.AlertmanagerConfig()
	previous, err := os.ReadFile(cfgPath)
	if err != nil {
		unlock()
		t.Fatalf("read alertmanager configuration: %v", err)
	}
	t.Cleanup(func() {
		defer unlock()
		if err := writeFileAtomic(cfgPath, previous); err != nil {
			t.Errorf("restore alertmanager configuration: %v", err)
			return
		}
		if err := sandbox.Reload(context.Background(), e.AlertmanagerURL); err != nil {
			t.Errorf("reload alertmanager after restoring its configuration: %v", err)
		}
	})
	if err := sandbox.WriteAlertmanagerConfig(e.layout, url, tokenFile); err != nil {
		t.Fatalf("set alertmanager webhook: %v", err)
	}
	if err := sandbox.Reload(t.Context(), e.AlertmanagerURL); err != nil {
		t.Fatalf("set alertmanager webhook: %v", err)
	}
}

// lockWebhook takes the exclusive lock serialising webhook changes.
func (e *Env) lockWebhook(t testing.TB) (unlock func()) {
	t.Helper()
	path := filepath.Join(e.layout.AlertmanagerDir(), "webhook.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("open webhook lock: %v", err)
	}
	begin := time.Now()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("lock webhook: %v", err)
	}
	if waited := time.Since(begin); waited > time.Second {
		t.Logf("waited %s for another test to release the Alertmanager webhook", waited.Round(time.Second))
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// writeFileAtomic replaces path so that readers never see a partial file.
func writeFileAtomic(path string, data []byte) error {
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// sanitize makes a string safe as a file name.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
