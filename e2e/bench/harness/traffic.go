package harness

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/rolloutd/rolloutd/router"
)

// TrafficWatch records, per app, when its canary Ingress last went from a
// positive canary weight to none: weight annotation "0" or the Ingress deleted.
// It reads an informer, so a dropped watch is re-listed rather than lost.
type TrafficWatch struct {
	mu   sync.Mutex
	live map[string]bool
	zero map[string]time.Time
}

// WatchTraffic starts the watch on namespace ns and waits for its first list.
func WatchTraffic(ctx context.Context, kube kubernetes.Interface, ns string) (*TrafficWatch, error) {
	w := &TrafficWatch{live: map[string]bool{}, zero: map[string]time.Time{}}
	f := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithNamespace(ns))
	inf := f.Networking().V1().Ingresses().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.seen(obj, false) },
		UpdateFunc: func(_, obj any) { w.seen(obj, false) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			w.seen(obj, true)
		},
	})
	if err != nil {
		return nil, err
	}
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil, fmt.Errorf("ingress watch on %s did not sync", ns)
	}
	return w, nil
}

func (w *TrafficWatch) seen(obj any, deleted bool) {
	now := time.Now()
	ing, ok := obj.(*networkingv1.Ingress)
	if !ok || !strings.HasSuffix(ing.Name, "-canary") {
		return
	}
	app := strings.TrimSuffix(ing.Name, "-canary")
	weight := ing.Annotations[router.AnnCanaryWeight]
	positive := !deleted && weight != "" && weight != "0"
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case positive:
		w.live[app] = true
		delete(w.zero, app)
	case w.live[app]:
		w.live[app] = false
		w.zero[app] = now
	}
}

// ZeroAt is when app's canary last lost its traffic, if it has since it last had
// some.
func (w *TrafficWatch) ZeroAt(app string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.zero[app]
	return t, ok
}

// Live reports whether app's canary has a positive weight.
func (w *TrafficWatch) Live(app string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.live[app]
}

// WaitZero waits up to timeout for app's canary to lose its traffic and returns
// the time from t0.
func (w *TrafficWatch) WaitZero(ctx context.Context, app string, t0 time.Time, timeout time.Duration) (time.Duration, bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if at, ok := w.ZeroAt(app); ok {
			return at.Sub(t0), true
		}
		select {
		case <-ctx.Done():
			return 0, false
		case <-tick.C:
		}
	}
}
