package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestCanaryRequestsCountsOnlyTheCanaryUpstreamOfTheNamespace(t *testing.T) {
	metrics := `# HELP nginx_ingress_controller_requests requests
# TYPE nginx_ingress_controller_requests counter
nginx_ingress_controller_requests{namespace="ns1",ingress="app",canary="ns1-app-canary-80",status="500"} 30
nginx_ingress_controller_requests{namespace="ns1",ingress="app",canary="ns1-app-canary-80",status="503"} 2
nginx_ingress_controller_requests{namespace="ns1",ingress="app",canary="ns1-app-canary-80",status="200"} 68
nginx_ingress_controller_requests{namespace="ns1",ingress="app",canary="",status="500"} 7
nginx_ingress_controller_requests{namespace="ns2",ingress="app",canary="ns2-app-canary-80",status="500"} 9
nginx_ingress_controller_requests{namespace="ns1",ingress="other",canary="ns1-other-canary-80",status="200"} 5
# TYPE app_requests_total counter
app_requests_total{namespace="ns1",pod="p",method="GET",code="500"} 99
`
	got, err := canaryRequests(strings.NewReader(metrics), "ns1")
	require.NoError(t, err)
	assert.Equal(t, map[string]canaryCounts{"app": {total: 100, failed: 32}, "other": {total: 5}}, got)
}

func TestCanaryRequestsRejectsBrokenExposition(t *testing.T) {
	_, err := canaryRequests(strings.NewReader("nginx_ingress_controller_requests{namespace= 1\n"), "ns1")
	assert.Error(t, err)
}

func TestCanaryWatchKeepsTheHighestCountOnceTheSeriesGo(t *testing.T) {
	w := &canaryWatch{seen: map[string]canaryCounts{}}
	w.update(map[string]canaryCounts{"app": {total: 10, failed: 3}}, nil)
	w.update(map[string]canaryCounts{}, nil) // canary Ingress deleted
	w.update(nil, assert.AnError)
	assert.Equal(t, canaryCounts{total: 10, failed: 3}, w.get("app"))
	assert.Equal(t, 3, w.polls)
}

func TestShareOfSumsThePodsRunningTheImage(t *testing.T) {
	shares := map[string]float64{"ns/a-1": 0.5, "ns/a-canary-1": 0.3, "ns/gone": 0.2}
	images := map[string]string{"ns/a-1": "v2", "ns/a-canary-1": "v2"}
	assert.InDelta(t, 0.8, shareOf(shares, images, "v2"), 1e-9)
	assert.Zero(t, shareOf(shares, images, "v1"))
}

func TestParseModuleDirReadsGoModDownloadJSON(t *testing.T) {
	cases := []struct {
		name, out, want string
		wantErr         bool
	}{
		{"found", `{"Path":"github.com/fluxcd/flagger","Version":"v1.44.0","Dir":"/m/flagger@v1.44.0"}`, "/m/flagger@v1.44.0", false},
		{"download error", `{"Path":"x","Error":"not found"}`, "", true},
		{"not json", `go: oops`, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseModuleDir([]byte(tc.out))
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseFlagsRejectsBadPhasesAndCounts(t *testing.T) {
	cases := []struct {
		name string
		args []string
		ok   bool
	}{
		{"defaults", nil, true},
		{"one phase", []string{"-phases", "releases"}, true},
		{"unknown phase", []string{"-phases", "releases,speed"}, false},
		{"descending counts", []string{"-canaries", "200,10"}, false},
		{"zero count", []string{"-canaries", "0"}, false},
		{"negative others", []string{"-others", "-1"}, false},
		{"one tool", []string{"-tools", "rolloutd"}, true},
		{"unknown tool", []string{"-tools", "argo"}, false},
		{"burst below qps", []string{"-kube-qps", "400", "-kube-burst", "100"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args)
			if !tc.ok {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.NotEmpty(t, o.phases)
		})
	}
	o, err := parseFlags(nil)
	require.NoError(t, err)
	assert.Equal(t, []int{10, 200}, o.canaries)
	assert.Equal(t, 2000, o.others)
	assert.Equal(t, map[string]bool{"rolloutd": true, "flagger": true}, o.tools)
	assert.False(t, o.serial, "the release phases run at once unless -serial")
}

func TestFlaggerStateMapsCanaryPhases(t *testing.T) {
	cases := []struct {
		phase string
		want  state
	}{
		{"", state{}},
		{"Initialized", state{phase: "Initialized", ready: true}},
		{"Progressing", state{phase: "Progressing"}},
		{"Succeeded", state{phase: "Succeeded", settled: true, promoted: true}},
		{"Failed", state{phase: "Failed", settled: true}},
	}
	for _, tc := range cases {
		t.Run(tc.phase, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: map[string]any{}}
			if tc.phase != "" {
				u.Object["status"] = map[string]any{"phase": tc.phase}
			}
			assert.Equal(t, tc.want, flaggerState(u))
		})
	}
}

func TestCanaryGivesFlaggerTheTunedSettingsOrLeavesItsDefaults(t *testing.T) {
	c := canary("ns1", "app", tuned)
	interval, _, _ := unstructured.NestedString(c.Object, "spec", "analysis", "interval")
	threshold, _, _ := unstructured.NestedInt64(c.Object, "spec", "analysis", "threshold")
	steps, _, _ := unstructured.NestedSlice(c.Object, "spec", "analysis", "stepWeights")
	provider, _, _ := unstructured.NestedString(c.Object, "spec", "provider")
	assert.Equal(t, "10s", interval)
	assert.EqualValues(t, 3, threshold, "rolls back at the third failed check, as rolloutd's threshold 2")
	assert.Len(t, steps, 5)
	assert.Equal(t, "nginx", provider)

	d := canary("ns1", "app", defaults)
	interval, _, _ = unstructured.NestedString(d.Object, "spec", "analysis", "interval")
	threshold, _, _ = unstructured.NestedInt64(d.Object, "spec", "analysis", "threshold")
	assert.Equal(t, "1m", interval, "Flagger's fallback interval")
	assert.EqualValues(t, 1, threshold, "Flagger's fallback threshold")
	metrics, _, _ := unstructured.NestedSlice(d.Object, "spec", "analysis", "metrics")
	require.Len(t, metrics, 2)
	assert.NotContains(t, metrics[0], "interval", "the metric interval stays at Flagger's default")
}

func TestRolloutdAnnotationsMatchTheTunedSettings(t *testing.T) {
	ann := rolloutd{}.annotations(tuned)
	assert.Equal(t, "10s", ann["rolloutd.io/interval"])
	assert.Equal(t, "2", ann["rolloutd.io/threshold"])
	assert.Equal(t, tunedSteps, ann["rolloutd.io/steps"])
	assert.Equal(t, "error-rate<=1%,latency-p99<=500ms", ann["rolloutd.io/checks"])
	assert.Equal(t, map[string]string{"rolloutd.io/enabled": "true", "rolloutd.io/router": "nginx"}, rolloutd{}.annotations(defaults))
}

func TestRowRatioNeedsBothFiguresAndANonZeroDivisor(t *testing.T) {
	cases := []struct {
		name string
		r    row
		want string
	}{
		{"both", row{a: cell{v: 3, ok: true}, b: cell{v: 12, ok: true}}, "0.25"},
		{"a missing", row{a: cell{}, b: cell{v: 12, ok: true}}, "—"},
		{"zero divisor", row{a: cell{v: 3, ok: true}, b: cell{v: 0, ok: true}}, "—"},
		{"text only", row{a: cell{text: "x"}, b: cell{text: "y"}}, "—"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, tc.r.ratio()) })
	}
}

func TestRenderTableWritesOneMarkdownRowPerFigure(t *testing.T) {
	rows := releaseRows(
		releaseFigures{badTuned: badResult{zero: 2500 * time.Millisecond, ok: true, outcome: "RolledBack", canary: canaryCounts{total: 40, failed: 12}},
			healthy: healthyResult{full: 65 * time.Second, ok: true, outcome: "Succeeded"}, promDown: "+0s Progressing, weight 10"},
		releaseFigures{badTuned: badResult{zero: 50 * time.Second, ok: true, outcome: "Failed", canary: canaryCounts{total: 400, failed: 120}},
			healthy: healthyResult{ok: false, outcome: "not settled"}, promDown: "a | b"})
	var buf bytes.Buffer
	renderTable(&buf, "rolloutd", "Flagger", rows)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2+len(rows))
	assert.Equal(t, "| figure | rolloutd | Flagger | ratio rolloutd ÷ Flagger |", lines[0])
	assert.Contains(t, lines[2], "| 2.5 s (RolledBack) | 50.0 s (Failed) | 0.05 |")
	assert.Contains(t, lines[3], "| 12 (of 40) | 120 (of 400) | 0.10 |")
	assert.Contains(t, lines[6], "| 65.0 s (Succeeded) | not reached (not settled) | — |")
	assert.Contains(t, lines[7], `a \| b`, "a pipe in a cell is escaped")
}

func TestScaleRowsPairTheSizesAndSayHowFarAToolGot(t *testing.T) {
	a := []sizeFigures{{canaries: 10, measured: true, takeover: 20 * time.Second, idle: usage{rss: 40}},
		{canaries: 200, measured: true, reached: 200, idle: usage{rss: 80}}}
	b := []sizeFigures{{canaries: 10, measured: true, takeover: 40 * time.Second, idle: usage{rss: 20}},
		{canaries: 200, reached: 98}}
	rows := scaleRows(a, b, 2000, 6*time.Minute)
	require.Len(t, rows, 20)
	assert.Equal(t, "10 canaries + 2000 other Deployments: taken over (first app enrolled → every one ready)", rows[0].figure)
	assert.Equal(t, "0.50", rows[0].ratio())
	assert.Equal(t, "10 canaries + 2000 other Deployments: idle RSS MiB", rows[1].figure)
	assert.Equal(t, "2.00", rows[1].ratio())
	assert.Equal(t, "200 canaries + 2000 other Deployments: idle RSS MiB", rows[11].figure)
	assert.Equal(t, "80.0", rows[11].a.text)
	assert.Equal(t, "not measured: 98 of 200 taken over within 6m0s", rows[11].b.text)
	assert.Equal(t, "—", rows[11].ratio())
	assert.Equal(t, "not measured: 98 of 200 taken over within 6m0s", rows[10].b.text, "the take-over row says how far it got")
}

func TestRollCellGivesARatioOnlyWhenEveryRolloutEnded(t *testing.T) {
	all := sizeFigures{canaries: 2, measured: true, rollin: usage{minutes: 1.5, settled: 2, rolling: 2}}
	some := sizeFigures{canaries: 2, measured: true, rollin: usage{minutes: 6, settled: 1, rolling: 2}}
	assert.Equal(t, "90 s (2/2 ended)", rollCell(all, time.Minute).text)
	assert.True(t, rollCell(all, time.Minute).ok)
	assert.Equal(t, "360 s (1/2 ended)", rollCell(some, time.Minute).text)
	assert.False(t, rollCell(some, time.Minute).ok)
}

func TestAppNamesArePrefixedPerToolAndNeverLookLikeTheOthers(t *testing.T) {
	names := appNames("flagger", 3)
	assert.Equal(t, []string{"flagger-0000", "flagger-0001", "flagger-0002"}, names)
	for _, n := range append(names, appNames("rolloutd", 2)...) {
		assert.False(t, strings.HasPrefix(n, otherPrefix), n)
	}
}

func TestTimelineShowsChangesAndWhenPrometheusCameBack(t *testing.T) {
	down := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return down.Add(time.Duration(s) * time.Second) }
	samples := []sample{
		{at(-1), "Progressing", 10}, {at(0), "Progressing", 10}, {at(5), "Progressing", 10},
		{at(21), "RollingBack", 0}, {at(22), "RolledBack", -1}, {at(50), "RolledBack", -1},
	}
	assert.Equal(t, "-1s Progressing, weight 10; +21s RollingBack, weight 0; +22s RolledBack, no canary Ingress; +45s Prometheus back",
		timeline(samples, down, at(45)))
	assert.Equal(t, "+0s Progressing, weight 10; +45s Prometheus back; +50s Progressing, weight 20",
		timeline([]sample{{at(0), "Progressing", 10}, {at(50), "Progressing", 20}}, down, at(45)))
}
