package alerts

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"
)

// tokenRecheck is how often the token file is re-read even when its metadata looks
// unchanged, in case a rewrite kept size and modification time.
const tokenRecheck = 30 * time.Second

// tokenFile holds the bearer token from a file (a mounted Secret) and follows its
// rotation: kubelet swaps a Secret volume's symlink, which changes the file's
// identity, and an edited file changes size or modification time. Each check is
// one stat; the file is read again only when it changed.
type tokenFile struct {
	path  string
	clock clock.PassiveClock
	log   *zap.Logger

	mu       sync.Mutex
	token    []byte
	info     os.FileInfo
	readAt   time.Time
	lastFail string
}

// newTokenFile reads the token once; an unreadable or empty file is an error at
// start, never a webhook that accepts any request.
func newTokenFile(path string, clk clock.PassiveClock, log *zap.Logger) (*tokenFile, error) {
	t := &tokenFile{path: path, clock: clk, log: log}
	if err := t.reload(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *tokenFile) reload() error {
	info, err := os.Stat(t.path)
	if err != nil {
		return fmt.Errorf("alerts: webhook token file: %w", err)
	}
	b, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("alerts: webhook token file: %w", err)
	}
	tok := bytes.TrimSpace(b)
	if len(tok) == 0 {
		return fmt.Errorf("alerts: webhook token file %s is empty", t.path)
	}
	t.token, t.info, t.readAt = tok, info, t.clock.Now()
	return nil
}

// current returns the token, re-reading the file when it changed. A file that
// became unreadable or empty keeps the last good token (logged once), so a Secret
// update in flight never locks Alertmanager out.
func (t *tokenFile) current() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	info, err := os.Stat(t.path)
	changed := err != nil || !os.SameFile(info, t.info) || info.Size() != t.info.Size() ||
		!info.ModTime().Equal(t.info.ModTime()) || t.clock.Since(t.readAt) > tokenRecheck
	if !changed {
		return t.token
	}
	old := t.token
	if err := t.reload(); err != nil {
		if msg := err.Error(); msg != t.lastFail {
			t.lastFail = msg
			t.log.Warn("cannot re-read the webhook token; keeping the previous one", zap.Error(err))
		}
		return t.token
	}
	t.lastFail = ""
	if !bytes.Equal(old, t.token) {
		t.log.Info("webhook token rotated", zap.String("file", t.path))
	}
	return t.token
}

var errNoToken = errors.New("missing bearer token")
var errBadToken = errors.New("wrong bearer token")

// check verifies an Authorization header in constant time.
func (t *tokenFile) check(header string) error {
	const prefix = "Bearer "
	if len(header) <= len(prefix) || !equalFoldASCII(header[:len(prefix)], prefix) {
		return errNoToken
	}
	got := bytes.TrimSpace([]byte(header[len(prefix):]))
	if subtle.ConstantTimeCompare(got, t.current()) != 1 {
		return errBadToken
	}
	return nil
}

func equalFoldASCII(a, b string) bool {
	return bytes.EqualFold([]byte(a), []byte(b))
}
