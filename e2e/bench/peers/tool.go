package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/bench/harness"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// profile is one set of settings both tools get in their own terms.
type profile struct {
	name string
	// interval is the step / analysis interval; 0 leaves every setting at the
	// tool's default.
	interval time.Duration
}

var (
	tuned    = profile{name: "interval 10s", interval: 10 * time.Second}
	defaults = profile{name: "defaults"}
)

// The tuned settings, the same for both tools. rolloutd's threshold counts the
// failed analyses it tolerates, Flagger's the failed checks that roll back, so
// Flagger's is one more: both roll back at the third failed analysis.
const (
	tunedThreshold        = 2
	flaggerTunedThreshold = tunedThreshold + 1
	tunedSteps            = "10,20,30,40,50"
	maxErrorPct           = 1   // success rate at least 99%
	maxP99Millis          = 500 // request duration p99
)

// state is where one app's rollout stands, in terms both tools share.
type state struct {
	phase string // the tool's own phase name
	// ready: taken over and waiting for a release (never released yet).
	ready bool
	// settled: the last release ended, promoted or not.
	settled  bool
	promoted bool
}

// tool is rolloutd or Flagger, run out of cluster on one namespace.
type tool interface {
	name() string
	version() string
	// start runs the tool against the relays, watching namespace ns, with the
	// process-wide settings of p.
	start(ctx context.Context, r *relays, ns, logDir string, p profile) (proc, error)
	// enroll puts the apps under the tool with the settings of p.
	enroll(ctx context.Context, ns, promURL string, names []string, p profile) error
	// states reads every enrolled app's state in ns.
	states(ctx context.Context, ns string) (map[string]state, error)
	// settings describes what p means for the tool, for the table's header.
	settings(p profile) string
	// command is how the tool was started, for the header.
	command() string
}

// proc is a running tool.
type proc interface {
	Pid() int
	Stop()
}

// apiLimits are the client-side rate limits of a tool's API client, the same
// for both tools: Flagger's default (100 QPS, burst 250) throttles its
// per-canary ticks at 200 canaries (about 11 requests per canary and tick, so
// 220 requests/s at interval 10s), which left it taking over fewer than half
// of them in time.
type apiLimits struct{ qps, burst int }

func (l apiLimits) String() string { return fmt.Sprintf("%d QPS / burst %d", l.qps, l.burst) }

// rolloutd is the daemon of this repository, built from the working tree.
type rolloutd struct {
	bin  string
	kube kubernetes.Interface
	// built is the tree's git describe when bin was built.
	built  string
	limits apiLimits
}

func (rolloutd) name() string { return "rolloutd" }

func (t rolloutd) version() string { return t.built }

func (t rolloutd) start(ctx context.Context, r *relays, ns, logDir string, p profile) (proc, error) {
	d, err := harness.StartDaemon(ctx, harness.DaemonOptions{
		Bin: t.bin, Kubeconfig: r.kubeconfig, Namespace: ns, LogDir: logDir, Env: t.env(r, p),
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// tunedMinRequests is ROLLOUTD_MIN_REQUESTS at interval 10s: Flagger judges a
// window from its first request (none is "no values", a failed check), so
// rolloutd gets the same floor instead of its default 20, below which a gate
// is Inconclusive and the step is held.
const tunedMinRequests = 1

func (t rolloutd) env(r *relays, p profile) []string {
	env := []string{"ROLLOUTD_PROMETHEUS_URL=" + r.prom.URL(),
		fmt.Sprintf("ROLLOUTD_KUBE_QPS=%d", t.limits.qps), fmt.Sprintf("ROLLOUTD_KUBE_BURST=%d", t.limits.burst)}
	if p.interval > 0 {
		env = append(env, fmt.Sprintf("ROLLOUTD_MIN_REQUESTS=%d", tunedMinRequests))
	}
	return env
}

func (t rolloutd) annotations(p profile) map[string]string {
	ann := map[string]string{"rolloutd.io/enabled": "true", "rolloutd.io/router": "nginx"}
	if p.interval > 0 {
		ann["rolloutd.io/interval"] = p.interval.String()
		ann["rolloutd.io/threshold"] = fmt.Sprint(tunedThreshold)
		ann["rolloutd.io/steps"] = tunedSteps
		ann["rolloutd.io/checks"] = fmt.Sprintf("error-rate<=%d%%,latency-p99<=%dms", maxErrorPct, maxP99Millis)
	}
	return ann
}

func (t rolloutd) enroll(ctx context.Context, ns, _ string, names []string, p profile) error {
	return harness.Apps{Kube: t.kube, Namespace: ns}.Annotate(ctx, names, t.annotations(p))
}

func (t rolloutd) states(ctx context.Context, ns string) (map[string]state, error) {
	list, err := t.kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{LabelSelector: "!" + otherLabel})
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	out := map[string]state{}
	for i := range list.Items {
		d := &list.Items[i]
		if d.Annotations["rolloutd.io/enabled"] != "true" {
			continue
		}
		st, err := contract.Read(d.Annotations)
		if err != nil {
			continue
		}
		out[d.Name] = state{
			phase:    string(st.Phase),
			ready:    harness.TakenOver(d, st),
			settled:  st.Phase == contract.Succeeded || st.Phase == contract.RolledBack || st.Phase == contract.Aborted,
			promoted: st.Phase == contract.Succeeded,
		}
	}
	return out, nil
}

func (t rolloutd) settings(p profile) string {
	var b strings.Builder
	for _, k := range []string{"rolloutd.io/enabled", "rolloutd.io/router", "rolloutd.io/interval", "rolloutd.io/threshold", "rolloutd.io/steps", "rolloutd.io/checks"} {
		if v, ok := t.annotations(p)[k]; ok {
			fmt.Fprintf(&b, "%s=%q ", k, v)
		}
	}
	if p.interval == 0 {
		b.WriteString("(interval 1m, threshold 2, steps 10,20,30,40,50, checks error-rate<=1%+baseline,cpu<=1.3x,memory<=1.3x,load<=1.5x,memory-growth: the defaults) ")
	}
	b.WriteString("rolloutd.io/adaptive default (true)")
	if p.interval > 0 {
		fmt.Fprintf(&b, "; daemon ROLLOUTD_MIN_REQUESTS=%d (as Flagger, a window is judged from its first canary request; default 20)", tunedMinRequests)
	} else {
		b.WriteString("; daemon ROLLOUTD_MIN_REQUESTS default (20)")
	}
	return b.String()
}

func (t rolloutd) command() string {
	return fmt.Sprintf("ROLLOUTD_NAMESPACES=<ns> ROLLOUTD_PROMETHEUS_URL=<prometheus relay> ROLLOUTD_LEADER_ELECT=false ROLLOUTD_KUBE_QPS=%d ROLLOUTD_KUBE_BURST=%d [ROLLOUTD_MIN_REQUESTS=%d at interval 10s] rolloutd --kubeconfig <relay kubeconfig>", t.limits.qps, t.limits.burst, tunedMinRequests) +
		" (every other variable at its default: workers 32, sample interval 10s; API limits default 100 QPS / burst 200)"
}

// gitDescribe names the working tree's commit, "working tree" outside git.
func gitDescribe() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "working tree"
	}
	return strings.TrimSpace(string(out))
}
