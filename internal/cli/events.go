package cli

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

// maxEvents is how many recent Events the detailed view shows.
const maxEvents = 10

// recentEvents lists the newest Events of a Deployment, oldest first.
func recentEvents(ctx context.Context, cs kubernetes.Interface, ns, name string) ([]corev1.Event, error) {
	sel := fields.Set{"involvedObject.kind": "Deployment", "involvedObject.name": name}.AsSelector().String()
	list, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list events of deployment %s/%s: %w", ns, name, err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		// The selector is applied again here for servers (and fakes) that ignore it.
		if e.InvolvedObject.Kind == "Deployment" && e.InvolvedObject.Name == name {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return EventTime(out[i]).Before(EventTime(out[j])) })
	if len(out) > maxEvents {
		out = out[len(out)-maxEvents:]
	}
	return out, nil
}

// EventTime is when an Event last happened, whichever API version wrote it
// (rolloutctl orders and ages Events by it; the e2e framework dumps them in
// that order).
func EventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}
