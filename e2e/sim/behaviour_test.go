package sim

import (
	"reflect"
	"testing"
)

func TestParseBehaviourDefaultsAndBadValues(t *testing.T) {
	def := DefaultBehaviour()
	with := func(f func(*Behaviour)) Behaviour { b := def; f(&b); return b }
	tests := []struct {
		name     string
		ann      map[string]string
		want     Behaviour
		problems int
	}{
		{"no annotations is a healthy default", nil, def, 0},
		{"error rate", map[string]string{AnnotationErrorRate: "0.25"}, with(func(b *Behaviour) { b.ErrorRate = 0.25 }), 0},
		{"latency p50,p99 in ms", map[string]string{AnnotationLatencyMS: "30, 300"}, with(func(b *Behaviour) { b.LatencyP50, b.LatencyP99 = 0.03, 0.3 }), 0},
		{"cpu and load", map[string]string{AnnotationCPU: "0.25", AnnotationLoad: "1.5"}, with(func(b *Behaviour) { b.CPU, b.Load = 0.25, 1.5 }), 0},
		{"memory quantities", map[string]string{AnnotationMemory: "256Mi", AnnotationMemoryGrowth: "1Mi"}, with(func(b *Behaviour) { b.Memory, b.MemoryGrowth = 256<<20, 1<<20 }), 0},
		{"per-request cpu and load", map[string]string{AnnotationCPUPerRequest: "0.002", AnnotationLoadPerRequest: "0.01"},
			with(func(b *Behaviour) { b.CPUPerRequest, b.LoadPerRequest = 0.002, 0.01 }), 0},
		{"negative per-request cpu", map[string]string{AnnotationCPUPerRequest: "-0.1"}, def, 1},
		{"status label", map[string]string{AnnotationStatusLabel: "status_code"}, with(func(b *Behaviour) { b.StatusLabel = "status_code" }), 0},
		{"unknown status label", map[string]string{AnnotationStatusLabel: "http_status"}, def, 1},
		{"error rate above 1", map[string]string{AnnotationErrorRate: "1.5"}, def, 1},
		{"error rate not a number", map[string]string{AnnotationErrorRate: "high"}, def, 1},
		{"latency with one value", map[string]string{AnnotationLatencyMS: "20"}, def, 1},
		{"latency p99 below p50", map[string]string{AnnotationLatencyMS: "80,20"}, def, 1},
		{"negative cpu", map[string]string{AnnotationCPU: "-1"}, def, 1},
		{"memory not a quantity", map[string]string{AnnotationMemory: "lots"}, def, 1},
		{"each bad value reported, good ones kept",
			map[string]string{AnnotationLoad: "x", AnnotationMemoryGrowth: "-1Mi", AnnotationCPU: "2"},
			with(func(b *Behaviour) { b.CPU = 2 }), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := ParseBehaviour(tt.ann)
			if !reflect.DeepEqual(got, tt.want) || len(problems) != tt.problems {
				t.Errorf("ParseBehaviour(%v) = %+v, %q; want %+v with %d problems", tt.ann, got, problems, tt.want, tt.problems)
			}
		})
	}
}

func TestParseTrafficAnnotations(t *testing.T) {
	tests := []struct {
		name     string
		ann      map[string]string
		want     Traffic
		problems int
	}{
		{"default rate", nil, Traffic{RPS: 20}, 0},
		{"zero rate means none", map[string]string{AnnotationRPS: "0"}, Traffic{}, 0},
		{"bad rate keeps the default", map[string]string{AnnotationRPS: "fast"}, Traffic{RPS: 20}, 1},
		{"headers and cookies", map[string]string{
			AnnotationRequestHeaders: "X-Canary=always:0.1, x-user=beta:0.05",
			AnnotationRequestCookies: "canary=always:0.2",
		}, Traffic{RPS: 20,
			Headers: []Share{{"x-canary", "always", 0.1}, {"x-user", "beta", 0.05}},
			Cookies: []Share{{"canary", "always", 0.2}}}, 0},
		{"shares above 1 are rejected", map[string]string{AnnotationRequestHeaders: "a=b:0.7,c=d:0.7"}, Traffic{RPS: 20}, 1},
		{"malformed item is rejected", map[string]string{AnnotationRequestCookies: "canary:0.2"}, Traffic{RPS: 20}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := ParseTraffic(tt.ann)
			if !reflect.DeepEqual(got, tt.want) || len(problems) != tt.problems {
				t.Errorf("ParseTraffic = %+v, %q; want %+v with %d problems", got, problems, tt.want, tt.problems)
			}
		})
	}
}

func TestTrafficClassesShareOut(t *testing.T) {
	tr := Traffic{Headers: []Share{{"x-canary", "always", 0.1}}, Cookies: []Share{{"canary", "always", 0.5}}}
	got := map[Request]float64{}
	sum := 0.0
	for _, c := range tr.Classes() {
		got[c.Request] = c.Share
		sum += c.Share
	}
	want := map[Request]float64{
		{}: 0.45,
		{Cookie: "canary", CookieValue: "always"}:                                            0.45,
		{Header: "x-canary", HeaderValue: "always"}:                                          0.05,
		{Header: "x-canary", HeaderValue: "always", Cookie: "canary", CookieValue: "always"}: 0.05,
	}
	for r, w := range want {
		if d := got[r] - w; d > 1e-9 || d < -1e-9 {
			t.Errorf("class %+v share %v, want %v", r, got[r], w)
		}
	}
	if sum < 1-1e-9 || sum > 1+1e-9 {
		t.Errorf("shares add up to %v", sum)
	}
}
