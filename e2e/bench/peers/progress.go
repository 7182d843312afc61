package main

import (
	"fmt"
	"sync"
	"time"
)

// progress prints what the run is doing, with the clock time and the time
// since the run began, so a slow run shows which phase took the time.
type progress struct {
	mu    sync.Mutex
	start time.Time
	// phases are the finished phases' names and durations, in order.
	phases []phaseTime
}

type phaseTime struct {
	name string
	took time.Duration
}

var prog = &progress{start: time.Now()}

// logf prints one progress line.
func (p *progress) logf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	fmt.Printf("[%s +%s] %s\n", now.UTC().Format("15:04:05"), now.Sub(p.start).Round(time.Second), fmt.Sprintf(format, args...))
}

// phase logs the start of a phase and returns the function that logs its end
// and records its duration.
func (p *progress) phase(name string) (done func()) {
	p.logf("%s: start", name)
	begin := time.Now()
	return func() {
		took := time.Since(begin)
		p.logf("%s: done in %s", name, took.Round(time.Second))
		p.mu.Lock()
		p.phases = append(p.phases, phaseTime{name, took})
		p.mu.Unlock()
	}
}

// summary lists the phases and their durations, for the report's header.
func (p *progress) summary() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := ""
	for i, ph := range p.phases {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %s", ph.name, ph.took.Round(time.Second))
	}
	return s
}
