package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/e2e/sandbox"
)

var (
	canaryGVR   = schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "canaries"}
	templateGVR = schema.GroupVersionResource{Group: "flagger.app", Version: "v1beta1", Resource: "metrictemplates"}
)

// The MetricTemplates Flagger judges with: the same series and bounds as
// rolloutd's error-rate<=1% and latency-p99<=500ms, on the canary's upstream.
const (
	errorRateQuery = `100 - sum(rate(nginx_ingress_controller_requests{namespace="{{ namespace }}",ingress="{{ ingress }}",canary!="",status!~"5.*"}[{{ interval }}])) / sum(rate(nginx_ingress_controller_requests{namespace="{{ namespace }}",ingress="{{ ingress }}",canary!=""}[{{ interval }}])) * 100`
	latencyQuery   = `histogram_quantile(0.99, sum(rate(nginx_ingress_controller_request_duration_seconds_bucket{namespace="{{ namespace }}",ingress="{{ ingress }}",canary!=""}[{{ interval }}])) by (le)) * 1000`
)

// flagger is Flagger v1.44.0 with provider nginx.
type flagger struct {
	install flaggerInstall
	dyn     dynamic.Interface
	limits  apiLimits
}

func (flagger) name() string    { return "Flagger" }
func (flagger) version() string { return flaggerVersion }

func (f flagger) args(kubeconfig, prom, ns, port string) []string {
	return []string{"-kubeconfig", kubeconfig, "-mesh-provider", "nginx", "-metrics-server", prom,
		"-namespace", ns, "-port", port, "-log-level", "info", "-zap-encoding", "console",
		"-kubeconfig-qps", strconv.Itoa(f.limits.qps), "-kubeconfig-burst", strconv.Itoa(f.limits.burst)}
}

func (f flagger) command() string {
	return "flagger " + strings.Join(f.args("<relay kubeconfig>", "<prometheus relay>", "<ns>", "<free port>"), " ") +
		" (every other flag at its default: control-loop-interval 10s, threadiness 2, leader election off; API limits default 100 QPS / burst 250)"
}

// flaggerProc is a running Flagger.
type flaggerProc struct{ proc *framework.Process }

func (p *flaggerProc) Pid() int { return p.proc.PID() }

// Stop interrupts Flagger and kills it if it has not exited after 15 s.
func (p *flaggerProc) Stop() {
	if !p.proc.Signal(syscall.SIGINT, 15*time.Second) {
		p.proc.Signal(syscall.SIGKILL, time.Minute)
	}
}

func (f flagger) start(ctx context.Context, r *relays, ns, logDir string, _ profile) (proc, error) {
	addr, err := framework.FreeAddr()
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(addr.Port)
	log := filepath.Join(logDir, "flagger-"+ns+".log")
	// Each run of the benchmark starts its log afresh.
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		return nil, fmt.Errorf("start flagger: %w", err)
	}
	p := &flaggerProc{proc: &framework.Process{Name: "flagger"}}
	cmd := exec.Command(f.install.Bin(), f.args(r.kubeconfig, r.prom.URL(), ns, port)...)
	if err := p.proc.Start(cmd, log, ns); err != nil {
		return nil, err
	}
	err = p.proc.WaitReady(ctx, time.Minute, func() (bool, error) {
		if err := sandbox.GetOK(ctx, "http://127.0.0.1:"+port+"/healthz"); err != nil {
			return false, err
		}
		return true, nil
	})
	if err != nil {
		p.Stop()
		return nil, fmt.Errorf("flagger not healthy (log %s): %w", log, err)
	}
	return p, nil
}

func (f flagger) enroll(ctx context.Context, ns, promURL string, names []string, p profile) error {
	for name, q := range map[string]string{"error-rate": errorRateQuery, "latency-p99": latencyQuery} {
		tpl := metricTemplate(ns, name, q, promURL)
		_, err := f.dyn.Resource(templateGVR).Namespace(ns).Create(ctx, tpl, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create metric template %s: %w", name, err)
		}
	}
	return harness.Parallel(len(names), func(i int) error {
		_, err := f.dyn.Resource(canaryGVR).Namespace(ns).Create(ctx, canary(ns, names[i], p), metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create canary %s: %w", names[i], err)
		}
		return nil
	})
}

func metricTemplate(ns, name, query, promURL string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "flagger.app/v1beta1", "kind": "MetricTemplate",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"provider": map[string]any{"type": "prometheus", "address": promURL},
			"query":    query,
		},
	}}
}

// canary is the Canary for app: the harness's Deployment, Service and Ingress,
// provider nginx. Flagger's generated primary and canary Services get rps 0 so
// the simulator sends user traffic only through the Ingress, as it does for
// rolloutd.
func canary(ns, app string, p profile) *unstructured.Unstructured {
	metric := func(name string, bound int) map[string]any {
		m := map[string]any{"name": name, "templateRef": map[string]any{"name": name, "namespace": ns},
			"thresholdRange": map[string]any{"max": int64(bound)}}
		if p.interval > 0 {
			m["interval"] = p.interval.String()
		}
		return m
	}
	analysis := map[string]any{
		"stepWeights": []any{int64(10), int64(20), int64(30), int64(40), int64(50)},
		"metrics":     []any{metric("error-rate", maxErrorPct), metric("latency-p99", maxP99Millis)},
	}
	// The CRD requires both; "defaults" writes out the values Flagger falls
	// back to when they are empty (GetAnalysisInterval, GetAnalysisThreshold).
	analysis["interval"], analysis["threshold"] = "1m", int64(1)
	if p.interval > 0 {
		analysis["interval"] = p.interval.String()
		analysis["threshold"] = int64(flaggerTunedThreshold)
	}
	noTraffic := map[string]any{"annotations": map[string]any{"sim.rolloutd.io/rps": "0"}}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
		"metadata": map[string]any{"name": app, "namespace": ns},
		"spec": map[string]any{
			"provider":   "nginx",
			"targetRef":  map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
			"ingressRef": map[string]any{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": app},
			"service": map[string]any{"port": int64(80), "targetPort": int64(8080),
				"apex":    map[string]any{"annotations": map[string]any{"sim.rolloutd.io/rps": strconv.Itoa(appRPS)}},
				"primary": noTraffic, "canary": noTraffic},
			"analysis": analysis,
		},
	}}
}

func (f flagger) states(ctx context.Context, ns string) (map[string]state, error) {
	list, err := f.dyn.Resource(canaryGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list canaries: %w", err)
	}
	out := map[string]state{}
	for i := range list.Items {
		out[list.Items[i].GetName()] = flaggerState(&list.Items[i])
	}
	return out, nil
}

// flaggerState maps a Canary's status.phase onto the shared state.
func flaggerState(u *unstructured.Unstructured) state {
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	return state{
		phase:    phase,
		ready:    phase == "Initialized",
		settled:  phase == "Succeeded" || phase == "Failed",
		promoted: phase == "Succeeded",
	}
}

func (f flagger) settings(p profile) string {
	if p.interval == 0 {
		return "provider nginx; analysis.interval 1m and threshold 1 (the CRD requires both: the values Flagger falls back to when empty), metric interval unset (1m); " +
			"stepWeights [10,20,30,40,50] (Flagger has no default steps: rolloutd's default list); " +
			fmt.Sprintf("metrics error-rate (MetricTemplate, thresholdRange.max %d) and latency-p99 (max %d ms): Flagger has no built-in checks for nginx without them", maxErrorPct, maxP99Millis)
	}
	return fmt.Sprintf("provider nginx; analysis.interval %s, threshold %d (rolls back at the third failed check, as rolloutd's threshold 2), stepWeights [%s]; metrics error-rate "+
		"(MetricTemplate, %% of canary requests answered 5xx, thresholdRange.max %d) and latency-p99 (ms, max %d), metric interval %s",
		p.interval, flaggerTunedThreshold, tunedSteps, maxErrorPct, maxP99Millis, p.interval)
}
