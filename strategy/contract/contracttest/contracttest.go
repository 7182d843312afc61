// Package contracttest holds what the tests of the packages that speak the
// user contract (strategy/contract, analysis) share about its messages. Only
// tests import it; it imports testify alone, so no product package depends on
// it or it on them.
package contracttest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// AssertMessage compares a user-facing message got with want exactly, or as
// a prefix when want ends in "..." (for messages that go on to quote values).
func AssertMessage(t testing.TB, want, got string) {
	t.Helper()
	if n := len(want) - 3; n >= 0 && want[n:] == "..." {
		assert.Equal(t, want[:n], got[:min(n, len(got))])
		return
	}
	assert.Equal(t, want, got)
}
