package alerts

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	clocktesting "k8s.io/utils/clock/testing"
)

// secretVolume lays a token out as kubelet mounts a Secret: the file is a symlink
// through ..data, and an update swaps ..data to a new timestamped directory.
type secretVolume struct {
	t   *testing.T
	dir string
	n   int
}

func newSecretVolume(t *testing.T, token string) *secretVolume {
	v := &secretVolume{t: t, dir: t.TempDir()}
	v.write(token)
	require.NoError(t, os.Symlink(filepath.Join("..data", "token"), filepath.Join(v.dir, "token")))
	return v
}

func (v *secretVolume) path() string { return filepath.Join(v.dir, "token") }

func (v *secretVolume) write(token string) {
	v.n++
	ts := filepath.Join(v.dir, "..2025_03_01_"+string(rune('a'+v.n)))
	require.NoError(v.t, os.Mkdir(ts, 0o755))
	require.NoError(v.t, os.WriteFile(filepath.Join(ts, "token"), []byte(token), 0o600))
	tmp := filepath.Join(v.dir, "..data_tmp")
	require.NoError(v.t, os.Symlink(filepath.Base(ts), tmp))
	require.NoError(v.t, os.Rename(tmp, filepath.Join(v.dir, "..data")))
}

func TestTokenFollowsSecretRotation(t *testing.T) {
	v := newSecretVolume(t, "old-token")
	tf, err := newTokenFile(v.path(), clocktesting.NewFakePassiveClock(t0), zap.NewNop())
	require.NoError(t, err)
	require.NoError(t, tf.check("Bearer old-token"))

	v.write("new-token")
	assert.ErrorIs(t, tf.check("Bearer old-token"), errBadToken, "the old token stops working at once")
	assert.NoError(t, tf.check("Bearer new-token"))
}

func TestTokenFileEditedInPlaceOrRecheckedPeriodically(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(path, []byte("token-1"), 0o600))
	clk := clocktesting.NewFakePassiveClock(t0)
	tf, err := newTokenFile(path, clk, zap.NewNop())
	require.NoError(t, err)

	require.NoError(t, os.WriteFile(path, []byte("token-22"), 0o600))
	assert.NoError(t, tf.check("Bearer token-22"), "a size change is noticed")

	// Same size, and the modification time forced back: only the periodic re-read sees it.
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte("token-33"), 0o600))
	require.NoError(t, os.Chtimes(path, info.ModTime(), info.ModTime()))
	assert.NoError(t, tf.check("Bearer token-22"))
	clk.SetTime(t0.Add(tokenRecheck + time.Second))
	assert.NoError(t, tf.check("Bearer token-33"))
}

func TestTokenFileThatDisappearsKeepsTheLastToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(path, []byte("token-1\n"), 0o600))
	tf, err := newTokenFile(path, clocktesting.NewFakePassiveClock(t0), zap.NewNop())
	require.NoError(t, err)
	require.NoError(t, os.Remove(path))
	assert.NoError(t, tf.check("Bearer token-1"))
	require.NoError(t, os.WriteFile(path, []byte("  \n"), 0o600))
	assert.NoError(t, tf.check("Bearer token-1"), "an empty file never means no token")
}

func TestTokenFileMustHoldATokenAtStart(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	for name, path := range map[string]string{"missing": filepath.Join(dir, "nope"), "empty": empty} {
		t.Run(name, func(t *testing.T) {
			_, err := New(Options{TokenFile: path, Kube: newFixture(t, nil).kube})
			assert.Error(t, err)
		})
	}
}

func TestWebhookAcceptsTheRotatedToken(t *testing.T) {
	f := newFixture(t, nil, deployment("default", "web"))
	require.NoError(t, os.Rename(writeTemp(t, "rotated"), f.tokenPath))
	assert.Equal(t, http.StatusUnauthorized, f.post(testToken, payload(t, alert("A", "fp1"))).Code)
	assert.Equal(t, http.StatusOK, f.post("rotated", payload(t, alert("A", "fp1"))).Code)
}

func writeTemp(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "new")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}
