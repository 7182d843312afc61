package sandbox

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// TailFile returns the last n lines of a file, or a note saying why it could
// not be read.
func TailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(string(bytes.TrimRight(b, "\n")), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logTailError is a start failure that carries the tails of the logs that
// explain it.
type logTailError struct {
	err   error
	tails string
}

func (e *logTailError) Error() string { return e.err.Error() + "\n" + e.tails }
func (e *logTailError) Unwrap() error { return e.err }

// withLogTails attaches the last lines of each log file to err.
func withLogTails(err error, logs ...string) error {
	var b strings.Builder
	for _, l := range logs {
		fmt.Fprintf(&b, "--- last lines of %s:\n%s\n", l, TailFile(l, 25))
	}
	return &logTailError{err: err, tails: b.String()}
}
