// Package router turns a traffic.Split into Kubernetes routing objects. Each router
// (nginx, istio, gateway, service) is idempotent — applying the same split twice writes
// nothing the second time — and can reset to "all traffic to stable", removing what
// it generated. Routers never touch the user's own Ingress or Service; the gateway
// router edits the user's HTTPRoute while a canary gets traffic and restores its
// rules exactly as written.
// It imports only strategy/contract and traffic.
package router

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rolloutd/rolloutd/traffic"
)

// Target names the objects a router works with for one Deployment.
type Target struct {
	Namespace  string
	Deployment string
	// Service is the user's Service selecting the stable pods.
	Service string
	// CanaryService is the generated Service selecting the canary pods.
	CanaryService string
	// Ingress is the user's Ingress (router nginx).
	Ingress string
	// Route is the user's route (router gateway), an HTTPRoute unless
	// RouteKind is RouteKindGRPC.
	Route     string
	RouteKind string
	// Owner is the owner reference every generated object carries (the user's
	// Deployment), so deleting the Deployment deletes them.
	Owner metav1.OwnerReference
	// Drifted, when set, is told of each generated object Apply found missing or
	// different from its desired form before it rewrote it: the object ("Ingress
	// shop/web-canary") and the field ("metadata.annotations[...canary-weight]", or
	// "(deleted)" when it had to be created). The caller tells a repair of drift
	// from a planned change; routers only report.
	Drifted func(object, field string)
}

// FieldMissing is the field Drifted reports when an object had to be created.
const FieldMissing = "(deleted)"

// drifted reports a rewrite to t.Drifted when anyone listens.
func (t Target) drifted(object, field string) {
	if t.Drifted != nil {
		t.Drifted(object, field)
	}
}

// Router moves user traffic between stable and canary pods.
type Router interface {
	// Apply makes the routing objects send split's share of traffic to the canary
	// Service. It returns an error naming the object when one is missing or a
	// write fails; it writes nothing when the objects already match.
	Apply(ctx context.Context, t Target, split traffic.Split) error
	// Reset sends all traffic to the stable pods and deletes the routing objects
	// the router generated. Objects already gone are not an error.
	Reset(ctx context.Context, t Target) error
	// Weight reports the canary weight the routing objects carry now, and false
	// when no generated routing object exists.
	Weight(ctx context.Context, t Target) (int, bool, error)
}
