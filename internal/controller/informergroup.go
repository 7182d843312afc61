package controller

import "k8s.io/client-go/tools/cache"

// informerGroup is a set of informers the daemon runs only where it may watch
// their kinds (Istio's objects, the Gateway API routes): the factories that start
// them and the informers themselves. A nil group is one not set up: it has no
// informers, starts nothing and is never synced.
type informerGroup struct {
	factories []interface{ Start(stopCh <-chan struct{}) }
	all       []cache.SharedIndexInformer
}

func (g *informerGroup) informers() []cache.SharedIndexInformer {
	if g == nil {
		return nil
	}
	return g.all
}

func (g *informerGroup) start(stop <-chan struct{}) {
	if g == nil {
		return
	}
	for _, f := range g.factories {
		f.Start(stop)
	}
}

// synced reports whether the group's caches can be trusted (false without them).
func (g *informerGroup) synced() bool {
	if g == nil {
		return false
	}
	for _, inf := range g.all {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}
