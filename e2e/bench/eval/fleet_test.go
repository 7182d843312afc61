package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fleet's rollouts are distinct apps in namespaces of perNamespace apps.
func TestFleetTargetsAreOneAppEachInNamespacesOfPerNamespace(t *testing.T) {
	f := &fleet{prefix: "samplerbench-000001", perNamespace: 10}
	ts := f.targets(25)
	require.Len(t, ts, 25)
	assert.Equal(t, 3, f.namespaces(25))
	assert.Equal(t, "samplerbench-000001-000", ts[9].Namespace)
	assert.Equal(t, "samplerbench-000001-001", ts[10].Namespace)
	seen := map[string]bool{}
	for _, tg := range ts {
		assert.NoError(t, tg.Validate())
		assert.Equal(t, tg.Deployment+"-canary", tg.Canary)
		assert.False(t, seen[tg.Namespace+"/"+tg.Deployment], "one rollout per app")
		seen[tg.Namespace+"/"+tg.Deployment] = true
	}
}

// Prometheus' CPU is read from its own /metrics.
func TestPromCPUReadsProcessCPUSecondsFromMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/metrics", r.URL.Path)
		_, _ = w.Write([]byte("# HELP process_cpu_seconds_total x\nprocess_cpu_seconds_total 12.5\nprocess_open_fds 9\n"))
	}))
	defer srv.Close()
	v, err := promCPU(context.Background(), srv.URL+"/")
	require.NoError(t, err)
	assert.InDelta(t, 12.5, v, 1e-9)
	empty := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer empty.Close()
	_, err = promCPU(context.Background(), empty.URL)
	assert.Error(t, err, "no process_cpu_seconds_total")
}
