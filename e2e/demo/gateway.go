package main

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/rolloutd/rolloutd/e2e/sim"
)

// createGatewayRoute creates Gateway edge of class sim (the simulator is its
// controller) and the user's HTTPRoute web sending every path to Service web.
func createGatewayRoute(ctx context.Context, o options) error {
	gw, err := gwclient.NewForConfig(o.admin)
	if err != nil {
		return fmt.Errorf("gateway api client: %w", err)
	}
	g := &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "edge"},
		Spec: gwv1.GatewaySpec{GatewayClassName: sim.GatewayClassName,
			Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}}},
	}
	if _, err := gw.GatewayV1().Gateways(o.namespace).Create(ctx, g, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create gateway: %w", err)
	}
	r := &gwv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: appName},
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "edge"}}},
			Hostnames:       []gwv1.Hostname{"web.example.com"},
			Rules: []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{
				BackendObjectReference: gwv1.BackendObjectReference{Name: appName, Port: ptr.To(gwv1.PortNumber(80))}}}}}},
		},
	}
	if _, err := gw.GatewayV1().HTTPRoutes(o.namespace).Create(ctx, r, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create httproute: %w", err)
	}
	return nil
}
