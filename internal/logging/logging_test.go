package logging

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// capture runs log with os.Stderr redirected and returns what was written.
func capture(t *testing.T, format string, log func(*testing.T, string)) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	orig := os.Stderr
	os.Stderr = w
	defer func() { os.Stderr = orig }()
	log(t, format)
	require.NoError(t, w.Close())
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(out)
}

func TestWarningsCarryNoStackTraceErrorsDoInConsoleFormat(t *testing.T) {
	out := capture(t, "console", func(t *testing.T, format string) {
		log, err := New(format, "info")
		require.NoError(t, err)
		log.Warn("conflict; retrying")
		_ = log.Sync()
	})
	assert.Contains(t, out, "conflict; retrying")
	assert.NotContains(t, out, "testing.tRunner", "a warning printed a stack trace")

	out = capture(t, "console", func(t *testing.T, format string) {
		log, err := New(format, "info")
		require.NoError(t, err)
		log.Error("broken")
		_ = log.Sync()
	})
	assert.True(t, strings.Contains(out, "testing.tRunner"), "an error should carry its stack trace:\n%s", out)
}

func TestNewRejectsUnknownLevels(t *testing.T) {
	_, err := New("json", "loud")
	assert.ErrorContains(t, err, "loud")
}
