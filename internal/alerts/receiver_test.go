package alerts

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func TestWebhookAnswersEachKindOfRequest(t *testing.T) {
	valid := func(t *testing.T) []byte { return payload(t, alert("HighErrorRate", "fp1")) }
	tests := []struct {
		name    string
		method  string
		auth    string
		body    func(t *testing.T) []byte
		code    int
		header  string
		marks   bool
		message string
	}{
		{name: "valid payload marks the deployment", auth: "Bearer " + testToken, body: valid, code: http.StatusOK, marks: true},
		{name: "scheme is case-insensitive", auth: "bearer " + testToken, body: valid, code: http.StatusOK, marks: true},
		{name: "wrong method", method: http.MethodGet, auth: "Bearer " + testToken, body: valid,
			code: http.StatusMethodNotAllowed, header: "Allow"},
		{name: "missing token", body: valid, code: http.StatusUnauthorized, header: "WWW-Authenticate", message: "missing"},
		{name: "wrong token", auth: "Bearer nope", body: valid, code: http.StatusUnauthorized, message: "wrong"},
		{name: "token as a prefix of the right one", auth: "Bearer s3cret", body: valid, code: http.StatusUnauthorized},
		{name: "basic auth", auth: "Basic " + testToken, body: valid, code: http.StatusUnauthorized},
		{name: "malformed JSON", auth: "Bearer " + testToken, body: func(*testing.T) []byte { return []byte(`{"version":"4","alerts":[`) },
			code: http.StatusBadRequest, message: "malformed"},
		{name: "not an object", auth: "Bearer " + testToken, body: func(*testing.T) []byte { return []byte(`[1,2]`) },
			code: http.StatusBadRequest},
		{name: "wrong version", auth: "Bearer " + testToken, body: func(t *testing.T) []byte {
			return bytes.Replace(valid(t), []byte(`"version":"4"`), []byte(`"version":"3"`), 1)
		}, code: http.StatusBadRequest, message: `version "3"`},
		{name: "no version", auth: "Bearer " + testToken, body: func(*testing.T) []byte { return []byte(`{"alerts":[]}`) },
			code: http.StatusBadRequest},
		{name: "oversized body", auth: "Bearer " + testToken, body: func(t *testing.T) []byte {
			big := alert("HighErrorRate", "fp1", "padding", strings.Repeat("x", 4096))
			return payload(t, big)
		}, code: http.StatusRequestEntityTooLarge},
		{name: "well-formed but names no deployment", auth: "Bearer " + testToken, body: func(t *testing.T) []byte {
			return payload(t, alert("DiskFull", "fp2", "deployment", ""))
		}, code: http.StatusOK},
		{name: "empty alert list", auth: "Bearer " + testToken, body: func(t *testing.T) []byte { return payload(t) },
			code: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.MaxBody = 2048 }, deployment("default", "web"))
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, Path, bytes.NewReader(tt.body(t)))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			f.r.ServeHTTP(rec, req)
			f.drain()
			assert.Equal(t, tt.code, rec.Code, rec.Body.String())
			if tt.header != "" {
				assert.NotEmpty(t, rec.Header().Get(tt.header))
			}
			if tt.message != "" {
				assert.Contains(t, rec.Body.String(), tt.message)
			}
			if tt.marks {
				require.NotNil(t, f.mark("default", "web"))
			} else {
				assert.Empty(t, f.patches(), "nothing changes")
			}
			assert.Equal(t, 1.0, testutil.ToFloat64(f.r.requests.WithLabelValues(strconv.Itoa(tt.code))))
		})
	}
}

func TestMarkCarriesTheAlert(t *testing.T) {
	f := newFixture(t, nil, deployment("default", "web"))
	a := alert("HighErrorRate", "fp1")
	require.Equal(t, http.StatusOK, f.post(testToken, payload(t, a)).Code)
	f.drain()
	m := f.mark("default", "web")
	require.NotNil(t, m)
	assert.Equal(t, "HighErrorRate", m.Name)
	assert.Equal(t, "fp1", m.Fingerprint)
	assert.True(t, m.StartsAt.Equal(t0))
	assert.Equal(t, "critical", m.Labels["severity"])
	p := f.patches()
	require.Len(t, p, 1)
	assert.Contains(t, string(p[0].GetPatch()), `"resourceVersion":"1"`, "the mark is conditional on what was read")
}

// An alert labelled with the canary copy (deployment="<name>-canary") is about the
// Deployment under release: it marks the canary's owner, also once the canary is gone.
func TestAlertAboutTheCanaryMarksItsOwner(t *testing.T) {
	canary := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-canary",
		Labels: map[string]string{contract.CanaryOfLabel: "web"}, ResourceVersion: "1"}}
	cases := []struct {
		name string
		objs []runtime.Object
	}{
		{"canary present", []runtime.Object{deployment("default", "web"), canary}},
		{"canary already removed", []runtime.Object{deployment("default", "web")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil, tc.objs...)
			require.Equal(t, http.StatusOK, f.post(testToken, payload(t, alert("CanaryErrors", "fp1", "deployment", "web-canary"))).Code)
			f.drain()
			m := f.mark("default", "web")
			require.NotNil(t, m, "the owner carries the mark")
			assert.Equal(t, "CanaryErrors", m.Name)
			assert.Equal(t, "web-canary", m.Labels["deployment"])
		})
	}
}
