package alerts

import (
	"container/list"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// seenSet remembers recently queued alerts for a while, bounded in size (oldest
// first out), so Alertmanager's repeats and the same alert in several groups are
// marked once. It is an optimisation: the mark itself also carries the
// fingerprint, and a replica that never saw the alert checks that.
type seenSet struct {
	ttl   time.Duration
	max   int
	clock clock.PassiveClock

	mu    sync.Mutex
	order *list.List // of seenEntry, oldest first
	index map[string]*list.Element
}

type seenEntry struct {
	key string
	at  time.Time
}

func newSeenSet(ttl time.Duration, max int, clk clock.PassiveClock) *seenSet {
	return &seenSet{ttl: ttl, max: max, clock: clk, order: list.New(), index: map[string]*list.Element{}}
}

// add records key and reports whether it was new.
func (s *seenSet) add(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	for e := s.order.Front(); e != nil && now.Sub(e.Value.(seenEntry).at) >= s.ttl; e = s.order.Front() {
		s.remove(e)
	}
	if _, ok := s.index[key]; ok {
		return false
	}
	for s.order.Len() >= s.max {
		s.remove(s.order.Front())
	}
	s.index[key] = s.order.PushBack(seenEntry{key: key, at: now})
	return true
}

// forget removes key, so the next notification of that alert is handled again
// (after a failed or refused mark).
func (s *seenSet) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.index[key]; ok {
		s.remove(e)
	}
}

func (s *seenSet) remove(e *list.Element) {
	delete(s.index, e.Value.(seenEntry).key)
	s.order.Remove(e)
}

func (s *seenSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len()
}
