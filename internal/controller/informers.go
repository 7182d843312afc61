package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/rolloutd/rolloutd/internal/spec"
	"github.com/rolloutd/rolloutd/internal/workload"
)

// Informers watches Deployments and ReplicaSets in the configured namespaces (all
// when none are given). Transforms keep the cache small: a Deployment without any
// rolloutd.io annotation keeps only its identity, and ReplicaSets keep their
// template's revision hash instead of the template.
type Informers struct {
	factories   []informers.SharedInformerFactory
	deployments map[string]appslisters.DeploymentLister // "" = all namespaces
	sets        map[string]appslisters.ReplicaSetLister
	synced      []cache.InformerSynced
	handlers    []cache.SharedIndexInformer
	rsInformers []cache.SharedIndexInformer
}

// NewInformers builds informers for namespaces (nil or empty: all namespaces).
func NewInformers(kube kubernetes.Interface, namespaces []string, resync time.Duration) (*Informers, error) {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	inf := &Informers{
		deployments: map[string]appslisters.DeploymentLister{},
		sets:        map[string]appslisters.ReplicaSetLister{},
	}
	for _, ns := range namespaces {
		f := informers.NewSharedInformerFactoryWithOptions(kube, resync, informers.WithNamespace(ns))
		d := f.Apps().V1().Deployments()
		rs := f.Apps().V1().ReplicaSets()
		if err := d.Informer().SetTransform(slimDeployment); err != nil {
			return nil, fmt.Errorf("informers: deployment transform: %w", err)
		}
		if err := rs.Informer().SetTransform(workload.SlimReplicaSet); err != nil {
			return nil, fmt.Errorf("informers: replicaset transform: %w", err)
		}
		inf.factories = append(inf.factories, f)
		inf.deployments[ns] = d.Lister()
		inf.sets[ns] = rs.Lister()
		inf.synced = append(inf.synced, d.Informer().HasSynced, rs.Informer().HasSynced)
		inf.handlers = append(inf.handlers, d.Informer())
		inf.rsInformers = append(inf.rsInformers, rs.Informer())
	}
	return inf, nil
}

// AddHandlers routes Deployment and ReplicaSet events to the given enqueue funcs.
func (i *Informers) AddHandlers(onDeployment, onReplicaSet func(any)) error {
	for _, h := range i.handlers {
		if _, err := h.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    onDeployment,
			UpdateFunc: func(_, obj any) { onDeployment(obj) },
			DeleteFunc: onDeployment,
		}); err != nil {
			return err
		}
	}
	for _, h := range i.rsInformers {
		if _, err := h.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    onReplicaSet,
			UpdateFunc: func(_, obj any) { onReplicaSet(obj) },
			DeleteFunc: onReplicaSet,
		}); err != nil {
			return err
		}
	}
	return nil
}

// Start starts every informer; WaitForSync blocks until their caches are filled.
func (i *Informers) Start(ctx context.Context) {
	for _, f := range i.factories {
		f.Start(ctx.Done())
	}
}

// WaitForSync waits for the caches; false if ctx ended first.
func (i *Informers) WaitForSync(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), i.synced...)
}

// HasSynced reports whether every cache is filled (for /readyz).
func (i *Informers) HasSynced() bool {
	for _, s := range i.synced {
		if !s() {
			return false
		}
	}
	return true
}

func (i *Informers) deploymentLister(ns string) (appslisters.DeploymentLister, bool) {
	if l, ok := i.deployments[metav1.NamespaceAll]; ok {
		return l, true
	}
	l, ok := i.deployments[ns]
	return l, ok
}

// Deployment returns a cached Deployment (read-only: DeepCopy before changing it).
func (i *Informers) Deployment(ns, name string) (*appsv1.Deployment, error) {
	l, ok := i.deploymentLister(ns)
	if !ok {
		return nil, apierrors.NewNotFound(appsv1.Resource("deployments"), name)
	}
	return l.Deployments(ns).Get(name)
}

// ReplicaSets lists the cached (slimmed) ReplicaSets of a namespace.
func (i *Informers) ReplicaSets(ns string) ([]*appsv1.ReplicaSet, error) {
	l, ok := i.sets[metav1.NamespaceAll]
	if !ok {
		if l, ok = i.sets[ns]; !ok {
			return nil, nil
		}
	}
	return l.ReplicaSets(ns).List(labels.Everything())
}

// hasRolloutdAnnotations reports whether any rolloutd.io annotation is present:
// opted in, opting out (status left to clean up), or configured but disabled.
func hasRolloutdAnnotations(d *appsv1.Deployment) bool {
	for k := range d.Annotations {
		if strings.HasPrefix(k, spec.Prefix) {
			return true
		}
	}
	return false
}

// slimDeployment keeps full objects only for Deployments rolloutd cares about and
// for canary copies; the rest keep their identity, so watching 10 000 Deployments
// stays cheap. Managed fields are dropped everywhere.
func slimDeployment(obj any) (any, error) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return obj, nil
	}
	if hasRolloutdAnnotations(d) || d.Labels[workload.CanaryOfLabel] != "" {
		d.ManagedFields = nil
		return d, nil
	}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{
		Name: d.Name, Namespace: d.Namespace, UID: d.UID, ResourceVersion: d.ResourceVersion,
	}}, nil
}
