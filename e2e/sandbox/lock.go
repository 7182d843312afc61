package sandbox

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// lockedLayout is this checkout's sandbox, locked by lockSandbox until unlock
// is called: how up and down begin.
func lockedLayout(out io.Writer) (l Layout, unlock func(), err error) {
	if l, err = NewLayout(); err != nil {
		return Layout{}, nil, err
	}
	unlock, err = lockSandbox(l, out)
	return l, unlock, err
}

// lockSandbox serialises sandbox commands of one checkout (several `make e2e`
// runs start `make sandbox` at once): it blocks until no other up or down
// runs, telling out when it has to wait.
func lockSandbox(l Layout, out io.Writer) (unlock func(), err error) {
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", l.Dir, err)
	}
	f, err := os.OpenFile(l.Path("lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open sandbox lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fmt.Fprintln(out, "waiting for another sandbox command to finish")
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock sandbox: %w", err)
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
