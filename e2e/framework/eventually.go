package framework

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// PollInterval is how often Eventually checks its condition.
const PollInterval = 200 * time.Millisecond

// Eventually calls cond every PollInterval until it returns true, and fails
// the test, naming what, once timeout has passed. While it returns false, the
// error it returns with it (a failed call, or a description of the value it
// saw, e.g. fmt.Errorf("%d ready", n)) is remembered, and the last one is shown
// on failure. The error is ignored once ok is true, so a condition can return
// `v > 3, fmt.Errorf("value %v", v)`.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	if err := Poll(t.Context(), timeout, cond); err != nil {
		t.Fatalf("waited %s for %s: %v", timeout, what, err)
	}
}

// Poll is Eventually without a test: it returns nil once cond returns true,
// or an error carrying cond's last error when ctx ends or timeout passes.
func Poll(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				return errors.New("condition still false")
			}
			return fmt.Errorf("last observation: %w", last)
		case <-tick.C:
		}
	}
}
