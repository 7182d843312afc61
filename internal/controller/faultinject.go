//go:build faultinject

package controller

import appsv1 "k8s.io/api/apps/v1"

// FaultPanicKey makes a reconcile of the Deployment carrying it panic, in a daemon
// built with the faultinject tag only (the end-to-end tests build it so): the
// recovery of a panicking reconcile is tested on the real daemon.
const FaultPanicKey = "e2e.rolloutd.io/panic"

func init() {
	injectFault = func(d *appsv1.Deployment) {
		if d.Annotations[FaultPanicKey] == "true" {
			panic("fault injected by " + FaultPanicKey)
		}
	}
}
