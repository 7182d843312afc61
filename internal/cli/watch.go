package cli

import (
	"bytes"
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// rewatchDelay spaces out new watches when the server closes one without sending
// anything, so a misbehaving server cannot make rolloutctl spin.
const rewatchDelay = time.Second

// source is a watchable set of Deployments: one by name, or all of a namespace.
type source struct {
	cs   kubernetes.Interface
	ns   string
	name string // empty: every Deployment of ns
}

func deploymentsSource(cs kubernetes.Interface, ns, name string) source {
	return source{cs: cs, ns: ns, name: name}
}

// read returns the current resourceVersion to watch from and, for a named source,
// the Deployment itself.
func (s source) read(ctx context.Context) (*appsv1.Deployment, string, error) {
	api := s.cs.AppsV1().Deployments(s.ns)
	if s.name != "" {
		d, err := api.Get(ctx, s.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, "", fmt.Errorf("deployment %s/%s not found", s.ns, s.name)
		}
		if err != nil {
			return nil, "", fmt.Errorf("get deployment %s/%s: %w", s.ns, s.name, err)
		}
		return d, d.ResourceVersion, nil
	}
	l, err := api.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return nil, "", fmt.Errorf("list deployments: %w", err)
	}
	return nil, l.ResourceVersion, nil
}

func (s source) watch(ctx context.Context, rv string) (watch.Interface, error) {
	opts := metav1.ListOptions{ResourceVersion: rv}
	if s.name != "" {
		opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", s.name).String()
	}
	w, err := s.cs.AppsV1().Deployments(s.ns).Watch(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("watch deployments: %w", err)
	}
	return w, nil
}

// changeFunc receives the Deployment as changed (nil for a namespace source, where
// it re-lists) and says whether following is done.
type changeFunc func(d *appsv1.Deployment) (done bool, err error)

// follow calls changed once now and again after every change the watch reports,
// until changed says done, it fails, or ctx ends. A closed or expired watch is
// re-established from a fresh read, so changed also runs after a reconnection.
func follow(ctx context.Context, s source, changed changeFunc) error {
	for {
		d, rv, err := s.read(ctx)
		if err != nil {
			return err
		}
		if done, err := changed(d); done || err != nil {
			return err
		}
		w, err := s.watch(ctx, rv)
		if err != nil {
			return err
		}
		got, done, err := drain(ctx, w, s.name, changed)
		w.Stop()
		if done || err != nil {
			return err
		}
		if got == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(rewatchDelay):
			}
		}
	}
}

// drain feeds watch events to changed until the watch closes; it returns how many
// events it handled.
func drain(ctx context.Context, w watch.Interface, name string, changed changeFunc) (int, bool, error) {
	n := 0
	for {
		select {
		case <-ctx.Done():
			return n, false, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok || ev.Type == watch.Error {
				return n, false, nil
			}
			d, isDeploy := ev.Object.(*appsv1.Deployment)
			if !isDeploy || (name != "" && d.Name != name) {
				continue
			}
			if name == "" {
				d = nil
			} else if ev.Type == watch.Deleted {
				return n, false, fmt.Errorf("deployment %s/%s was deleted", d.Namespace, d.Name)
			}
			n++
			if done, err := changed(d); done || err != nil {
				return n, done, err
			}
		}
	}
}

// redraw re-renders after every change and writes the frame when it differs from
// the last one: on a terminal in place, elsewhere appended after a blank line.
func (a *App) redraw(ctx context.Context, s source, render func(d *appsv1.Deployment) ([]byte, error)) error {
	var last []byte
	err := follow(ctx, s, func(d *appsv1.Deployment) (bool, error) {
		frame, err := render(d)
		if err != nil {
			return false, err
		}
		if bytes.Equal(frame, last) {
			return false, nil
		}
		switch {
		case a.Terminal:
			_, err = fmt.Fprint(a.Out, "\x1b[H\x1b[2J")
		case last != nil:
			_, err = fmt.Fprintln(a.Out)
		}
		if err == nil {
			_, err = a.Out.Write(frame)
		}
		last = frame
		return false, err
	})
	if ctx.Err() != nil {
		// Interrupted by the user: a normal end of a watch.
		return nil
	}
	return err
}
