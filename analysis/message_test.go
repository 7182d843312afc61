package analysis

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// assertMessage compares an error message with want; a want ending in "..." is
// a prefix.
func assertMessage(t *testing.T, want, got string) {
	t.Helper()
	if n := len(want) - 3; n >= 0 && want[n:] == "..." {
		assert.Equal(t, want[:n], got[:min(n, len(got))])
		return
	}
	assert.Equal(t, want, got)
}
