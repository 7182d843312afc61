package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
	"github.com/rolloutd/rolloutd/e2e/sim"
)

// simClient reads the data-plane simulator's own counters and routes, so both
// tools are scored by what the data plane did, not by what they report.
type simClient struct {
	url  string
	kube kubernetes.Interface
}

func (s simClient) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("simulator %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("simulator %s: %s", path, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// canaryCounts are requests the canary upstream of one app's Ingress answered.
type canaryCounts struct{ total, failed float64 }

// canaryRequests sums the simulated ingress-nginx counter
// nginx_ingress_controller_requests over the series of namespace ns with a
// canary upstream, per Ingress; failed are the 5xx answers.
func canaryRequests(metrics io.Reader, ns string) (map[string]canaryCounts, error) {
	ms, err := harness.MetricFamily(metrics, "nginx_ingress_controller_requests")
	if err != nil {
		return nil, fmt.Errorf("parse simulator metrics: %w", err)
	}
	out := map[string]canaryCounts{}
	for _, m := range ms {
		l := harness.Labels(m)
		if l["namespace"] != ns || l["canary"] == "" {
			continue
		}
		c := out[l["ingress"]]
		v := m.GetCounter().GetValue()
		c.total += v
		if strings.HasPrefix(l["status"], "5") {
			c.failed += v
		}
		out[l["ingress"]] = c
	}
	return out, nil
}

// canaryWatch polls the simulator's counters and keeps the highest count seen
// per app: the series go when the canary Ingress does, after its traffic.
type canaryWatch struct {
	mu    sync.Mutex
	seen  map[string]canaryCounts
	err   error
	polls int
}

func (s simClient) watchCanaries(ctx context.Context, ns string) *canaryWatch {
	w := &canaryWatch{seen: map[string]canaryCounts{}}
	go func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			b, err := s.get(ctx, "/metrics")
			var now map[string]canaryCounts
			if err == nil {
				now, err = canaryRequests(strings.NewReader(string(b)), ns)
			}
			w.update(now, err)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *canaryWatch) update(now map[string]canaryCounts, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.polls++
	if err != nil {
		w.err = err
		return
	}
	for app, c := range now {
		prev := w.seen[app]
		w.seen[app] = canaryCounts{total: max(prev.total, c.total), failed: max(prev.failed, c.failed)}
	}
}

// next waits for a poll that started after the call to complete.
func (w *canaryWatch) next(ctx context.Context) {
	w.mu.Lock()
	want := w.polls + 2
	w.mu.Unlock()
	_ = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.polls >= want, nil
	})
}

func (w *canaryWatch) get(app string) canaryCounts {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen[app]
}

// imageShare is the share of app's user traffic that the simulator sends to
// pods running image, now.
func (s simClient) imageShare(ctx context.Context, ns, app, image string) (float64, error) {
	b, err := s.get(ctx, "/debug/routes")
	if err != nil {
		return 0, err
	}
	var routes map[string]sim.RouteStatus
	if err := json.Unmarshal(b, &routes); err != nil {
		return 0, fmt.Errorf("simulator routes: %w", err)
	}
	pods, err := s.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("list pods: %w", err)
	}
	images := map[string]string{}
	for _, p := range pods.Items {
		if len(p.Spec.Containers) > 0 {
			images[ns+"/"+p.Name] = p.Spec.Containers[0].Image
		}
	}
	return shareOf(routes[ns+"/"+app].PodShare, images, image), nil
}

// shareOf sums the shares of the pods whose image is image.
func shareOf(podShare map[string]float64, images map[string]string, image string) float64 {
	total := 0.0
	for pod, share := range podShare {
		if images[pod] == image {
			total += share
		}
	}
	return total
}
