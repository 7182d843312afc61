package analysis

import (
	"strings"
	"testing"
	"time"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	stablePods = `pod=~"web-[a-z0-9]{1,10}-[a-z0-9]{5}"`
	canaryPods = `pod=~"web-canary-[a-z0-9]{1,10}-[a-z0-9]{5}"`
)

func TestRequestQueriesPerSource(t *testing.T) {
	nginx := `namespace="shop",ingress="web-ing",`
	istio := `reporter="destination",destination_workload_namespace="shop",`
	unserved := `reporter="source",destination_service_namespace="shop",`
	for _, tc := range []struct {
		source contract.Source
		name   string
		s      side
		want   string
	}{
		{contract.SourceNginx, "statuses", canarySide, `sum by (status) (increase(nginx_ingress_controller_requests{` + nginx + `canary!=""}[300s]))`},
		{contract.SourceNginx, "statuses", stableSide, `sum by (status) (increase(nginx_ingress_controller_requests{` + nginx + `canary=""}[300s]))`},
		{contract.SourceNginx, "latency", stableSide, `histogram_quantile(0.99, sum by (le) (rate(nginx_ingress_controller_request_duration_seconds_bucket{` + nginx + `canary=""}[300s])))`},
		// Requests the mesh answered for lack of a healthy pod are seen by the
		// source proxy only, addressed to the side's Service.
		{contract.SourceIstio, "statuses", canarySide, `sum by (response_code) (increase(istio_requests_total{` + istio + `destination_workload="web-canary"}[300s]) or ` +
			`increase(istio_requests_total{` + unserved + `destination_service_name="web-canary",destination_workload="unknown"}[300s]))`},
		{contract.SourceIstio, "statuses", stableSide, `sum by (response_code) (increase(istio_requests_total{` + istio + `destination_workload="web"}[300s]) or ` +
			`increase(istio_requests_total{` + unserved + `destination_service_name="web",destination_workload="unknown"}[300s]))`},
		{contract.SourceIstio, "latency", canarySide, `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{` + istio + `destination_workload="web-canary"}[300s]))) / 1000`},
		{contract.SourceService, "statuses", stableSide, `sum by (code) (increase(http_requests_total{namespace="shop",` + stablePods + `}[300s]))`},
		{contract.SourceService, "latency", canarySide, `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="shop",` + canaryPods + `}[300s])))`},
	} {
		t.Run(string(tc.source)+"/"+tc.name+"/"+tc.s.String(), func(t *testing.T) {
			target := testTarget()
			target.Source = tc.source
			got, err := requestQuery(target, tc.name, tc.s, 0.99)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestPodQueriesAreTheSameForEverySource(t *testing.T) {
	sel := `namespace="shop",` + canaryPods + `,container!="",container!="POD"`
	want := map[string]string{
		"cpu":    `avg(sum by (pod) (rate(container_cpu_usage_seconds_total{` + sel + `}[300s])))`,
		"memory": `avg(sum by (pod) (container_memory_working_set_bytes{` + sel + `}))`,
		"load":   `avg(sum by (pod) (avg_over_time(container_cpu_load_average_10s{` + sel + `}[300s])))`,
		"alerts": `ALERTS{alertstate="firing",namespace="shop",deployment=~"web|web-canary"} or ` +
			`ALERTS{alertstate="firing",namespace="shop",rolloutd_deployment=~"web|web-canary"}`,
	}
	for _, source := range []contract.Source{contract.SourceNginx, contract.SourceIstio, contract.SourceService} {
		for name, w := range want {
			target := testTarget()
			target.Source = source
			got, err := podQuery(target, name, canarySide)
			require.NoError(t, err)
			assert.Equal(t, w, got, "%s %s", source, name)
		}
	}
	stable, err := podQuery(testTarget(), "cpu", stableSide)
	require.NoError(t, err)
	assert.Contains(t, stable, stablePods)
}

func TestQueriesEscapeLabelValues(t *testing.T) {
	target := testTarget()
	target.Namespace = `a"b\c`
	target.Deployment, target.Canary = "web.v2", "web.v2-canary"
	q, err := podQuery(target, "cpu", stableSide)
	require.NoError(t, err)
	assert.Contains(t, q, `namespace="a\"b\\c"`)
	assert.Contains(t, q, `pod=~"web\\.v2-[a-z0-9]{1,10}-[a-z0-9]{5}"`)
	q, err = podQuery(target, "alerts", canarySide)
	require.NoError(t, err)
	assert.Contains(t, q, `deployment=~"web\\.v2|web\\.v2-canary"`)
}

func TestWindowIsWholeSecondsAtLeastTwo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "60s", 90500 * time.Millisecond: "90s", time.Second: "2s", 0: "2s", time.Hour: "3600s",
	} {
		assert.Equal(t, want, renderWindow(d), d.String())
	}
}

func TestUnknownSourceIsAnError(t *testing.T) {
	target := testTarget()
	target.Source = "linkerd"
	_, err := requestQuery(target, "statuses", canarySide, 0)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), `unknown metric source "linkerd"`))
}
