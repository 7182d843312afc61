package sim

import (
	"strings"
	"sync"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// warnings logs an object's annotation problems once, again only when they
// change, and forgets the object when it is deleted.
type warnings struct {
	log  *zap.Logger
	mu   sync.Mutex
	seen map[types.UID]string
}

func newWarnings(log *zap.Logger) *warnings {
	return &warnings{log: log, seen: map[types.UID]string{}}
}

// problemsOf is implemented by the slim objects.
func problemsOf(obj any) []string {
	switch o := obj.(type) {
	case *Pod:
		return o.Problems
	case *Service:
		return o.Problems
	case *Ingress:
		return o.Problems
	case *VirtualService:
		return o.Problems
	case *DestinationRule:
		return o.Problems
	}
	return nil
}

func (w *warnings) handler() cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    w.check,
		UpdateFunc: func(_, obj any) { w.check(obj) },
		DeleteFunc: w.forget,
	}
}

func (w *warnings) check(obj any) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	problems := strings.Join(problemsOf(obj), "; ")
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen[m.GetUID()] == problems {
		return
	}
	if problems == "" {
		delete(w.seen, m.GetUID())
		return
	}
	w.seen[m.GetUID()] = problems
	w.log.Warn("invalid simulator annotations",
		zap.String("namespace", m.GetNamespace()), zap.String("name", m.GetName()),
		zap.String("problems", problems))
}

func (w *warnings) forget(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if m, err := meta.Accessor(obj); err == nil {
		w.mu.Lock()
		delete(w.seen, m.GetUID())
		w.mu.Unlock()
	}
}
