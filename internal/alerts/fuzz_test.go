package alerts

import (
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzWebhookPayload posts any body with the right token: the decoder never
// panics, answers 200 only for a version 4 payload that decodes, and anything
// else is a 4xx (413 above the body limit) or 503 when the queue is full.
func FuzzWebhookPayload(f *testing.F) {
	fx := newFixture(f, func(o *Options) { o.MaxBody = 64 << 10 }, deployment("default", "web"))
	f.Add(payload(f, alert("HighErrorRate", "fp1")))
	f.Add(payload(f, resolved(alert("HighErrorRate", "fp2")), alert("Other", "fp3", "deployment", "")))
	f.Add([]byte(`{"version":"4","alerts":[{"status":"firing","labels":{"namespace":"default","deployment":"web"}}]}`))
	f.Add([]byte(`{"version":"4"}`))
	f.Add([]byte(`{"version":"4","alerts":null,"truncatedAlerts":18446744073709551615}`))
	f.Add([]byte(`{"version":"4","alerts":[{"labels":{"namespace":"","rolloutd_deployment":"web"},"startsAt":"0001-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"version":"4","alerts":[{"status":"firing","labels":{"namespace":"default","deployment":"web"}}]} trailing`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := fx.post(testToken, body)
		switch rec.Code {
		case http.StatusOK:
			var m Message
			if err := json.Unmarshal(body, &m); err != nil {
				// The decoder reads one JSON value; trailing bytes are not its concern.
				return
			}
			if m.Version != Version || m.Data == nil {
				t.Fatalf("200 for a payload of version %q (data %v)", m.Version, m.Data != nil)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable:
		default:
			t.Fatalf("answered %d: %s", rec.Code, rec.Body)
		}
	})
}
