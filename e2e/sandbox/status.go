package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Status prints the health of each component and fails if any is down.
func Status(ctx context.Context, out io.Writer) error {
	l, err := NewLayout()
	if err != nil {
		return err
	}
	pf := pidFiles{dir: l.PidDir()}
	var errs []error
	report := func(name, where string, err error) {
		rec, _ := pf.read(name)
		state := "ok"
		if err != nil {
			state = "DOWN: " + err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		fmt.Fprintf(out, "%-24s pid %-8d %-28s %s\n", name, rec.PID, where, state)
	}
	clusterErr := clusterHealthy(ctx, l)
	for _, name := range clusterComponents {
		if rec, _ := pf.read(name); rec.PID == 0 {
			continue // kwokctl names the kwok process one way or the other
		}
		err := clusterErr
		if !pf.running(name) {
			err = errors.New("process not running")
		}
		report(name, "", err)
	}
	report("cluster", l.APIServerURL(), clusterErr)
	for _, s := range []service{alertmanagerService(l), prometheusService(l), simulatorService(l, 0)} {
		err := s.ready(ctx)
		if !pf.running(s.name) {
			err = errors.New("process not running")
		}
		report(s.name, s.url(), err)
	}
	return errors.Join(errs...)
}
