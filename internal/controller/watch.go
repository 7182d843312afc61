package controller

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/cache"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

// routesOfKey marks, in the informer cache only, a user-owned VirtualService that
// carries rolloutd's routes, with the Deployment they split traffic for: the user
// owns the object, so it has no owner reference or label of rolloutd's.
const routesOfKey = "cache.rolloutd.io/routes-of"

// isGenerated reports whether labels mark an object rolloutd generated.
func isGenerated(labels map[string]string) bool {
	return labels[contract.ManagedByLabel] == contract.ManagedByValue && labels[contract.CanaryOfLabel] != ""
}

// untombed is obj, or the last state the cache knew of it when obj is the
// tombstone of a delete the watch missed.
func untombed(obj any) any {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return tomb.Obj
	}
	return obj
}

// generatorOf names the Deployment an object was generated for ("" for none):
// the canary-of label of a generated object, or the mark of a user-owned
// VirtualService carrying rolloutd's routes.
func generatorOf(obj any) (ns, name string) {
	m, err := meta.Accessor(untombed(obj))
	if err != nil {
		return "", ""
	}
	if l := m.GetLabels(); isGenerated(l) {
		return m.GetNamespace(), l[contract.CanaryOfLabel]
	}
	return m.GetNamespace(), m.GetAnnotations()[routesOfKey]
}

// addGeneratedHandler routes every change of a generated object (and of a
// VirtualService carrying rolloutd's routes) to onChange, with the old object
// too: a self-healing tool that drops the routes leaves only the old one naming
// the Deployment.
func (i *Informers) addGeneratedHandler(onChange func(any)) error {
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    onChange,
		UpdateFunc: func(old, obj any) { onChange(old); onChange(obj) },
		DeleteFunc: onChange,
	}
	for _, inf := range append(i.generated, i.mesh.group().informers()...) {
		if _, err := inf.AddEventHandler(h); err != nil {
			return err
		}
	}
	return nil
}

// enqueueGenerator enqueues the Deployment a changed object was generated for;
// objects of no rolloutd Deployment cost a label lookup.
func (c *Controller) enqueueGenerator(obj any) {
	if ns, name := generatorOf(obj); name != "" {
		c.queue.Add(ns + "/" + name)
	}
}
