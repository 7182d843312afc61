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
	if names, err := pf.names(); err == nil && len(names) == 0 {
		return ErrNotRunning
	}
	down := 0
	report := func(name, where string, err error) {
		rec, _ := pf.read(name)
		state := "ok"
		if err != nil {
			state = "DOWN: " + err.Error()
			down++
		}
		fmt.Fprintf(out, "%-24s pid %-8d %-28s %s\n", name, rec.PID, where, state)
	}
	notRunning := errors.New("process not running")
	for _, name := range clusterComponents {
		if rec, _ := pf.read(name); rec.PID == 0 {
			continue // kwokctl calls the kwok process kwok-controller
		}
		var err error
		if !pf.running(name) {
			err = notRunning
		}
		report(name, "", err)
	}
	report("cluster", l.APIServerURL(), clusterHealthy(ctx, l))
	for _, s := range []service{alertmanagerService(l), prometheusService(l), simulatorService(l, 0)} {
		err := s.ready(ctx)
		if !pf.running(s.name) {
			err = notRunning
		}
		report(s.name, s.url(), err)
	}
	if down > 0 {
		return fmt.Errorf("%d components are down: run `make sandbox` to repair it", down)
	}
	return nil
}
