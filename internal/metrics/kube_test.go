package metrics

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestKindNamesVerbAndResource(t *testing.T) {
	cases := []struct {
		method, path, verb, resource string
	}{
		{"GET", "/apis/apps/v1/namespaces/team/deployments/web", "get", "deployments"},
		{"GET", "/apis/apps/v1/namespaces/team/deployments", "list", "deployments"},
		{"GET", "/apis/apps/v1/deployments?watch=true&resourceVersion=5", "watch", "deployments"},
		{"GET", "/apis/apps/v1/namespaces/team/replicasets?watch=1", "watch", "replicasets"},
		{"PUT", "/apis/apps/v1/namespaces/team/deployments/web", "update", "deployments"},
		{"PUT", "/apis/apps/v1/namespaces/team/deployments/web/status", "update", "deployments/status"},
		{"PATCH", "/apis/networking.k8s.io/v1/namespaces/team/ingresses/web-canary", "patch", "ingresses"},
		{"POST", "/api/v1/namespaces/team/events", "create", "events"},
		{"DELETE", "/api/v1/namespaces/team/services/web-canary", "delete", "services"},
		{"GET", "/api/v1/namespaces/team", "get", "namespaces"},
		{"GET", "/api/v1/namespaces", "list", "namespaces"},
		{"PUT", "/apis/coordination.k8s.io/v1/namespaces/rolloutd/leases/rolloutd", "update", "leases"},
		{"GET", "/version", "get", "other"},
		{"GET", "/apis", "get", "other"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			u, err := url.Parse(c.path)
			require.NoError(t, err)
			verb, resource := RequestKind(c.method, u)
			assert.Equal(t, c.verb, verb)
			assert.Equal(t, c.resource, resource)
		})
	}
}

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused")
}

func TestKubeClientCountsRequestsByCodeAndErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusConflict)
		}
	}))
	defer srv.Close()
	k := NewKubeClient(prometheus.NewRegistry())
	client := &http.Client{Transport: k.Wrap(http.DefaultTransport)}
	for _, method := range []string{"GET", "GET", "PUT"} {
		req, err := http.NewRequest(method, srv.URL+"/apis/apps/v1/namespaces/a/deployments/web", nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	broken := &http.Client{Transport: k.Wrap(failingTransport{})}
	_, err := broken.Get("http://127.0.0.1:1/api/v1/namespaces/a/services/web")
	require.Error(t, err)

	assert.Equal(t, 2.0, testutil.ToFloat64(k.Requests.WithLabelValues("get", "deployments", "200")))
	assert.Equal(t, 1.0, testutil.ToFloat64(k.Requests.WithLabelValues("update", "deployments", "409")))
	assert.Equal(t, 1.0, testutil.ToFloat64(k.Requests.WithLabelValues("get", "services", "error")))
}
