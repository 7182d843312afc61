package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Pod annotations that set how the version behind a pod behaves.
const (
	AnnotationErrorRate    = "sim.rolloutd.io/error-rate"
	AnnotationLatencyMS    = "sim.rolloutd.io/latency-ms"
	AnnotationCPU          = "sim.rolloutd.io/cpu"
	AnnotationMemory       = "sim.rolloutd.io/memory"
	AnnotationMemoryGrowth = "sim.rolloutd.io/memory-growth"
	AnnotationLoad         = "sim.rolloutd.io/load"
	// Per request served: core-seconds of CPU, and load average per request per
	// second, on top of the fixed per-pod CPU and load above, so that a pod's
	// usage follows the traffic it serves as a real service's does.
	AnnotationCPUPerRequest  = "sim.rolloutd.io/cpu-per-request"
	AnnotationLoadPerRequest = "sim.rolloutd.io/load-per-request"
	// AnnotationStatusLabel names the label of the pod's own http_requests_total
	// that carries the response status: code (default), status or status_code,
	// as applications differ.
	AnnotationStatusLabel = "sim.rolloutd.io/status-label"
)

// StatusLabels are the status label names an application's metric may use.
var StatusLabels = []string{"code", "status", "status_code"}

// Noise applied each tick, as the sigma of a multiplicative normal factor.
const (
	cpuNoise    = 0.05
	loadNoise   = 0.05
	memoryNoise = 0.01
)

// z99 is the standard normal quantile of 0.99: it links a log-normal's
// median and 99th percentile through its sigma.
const z99 = 2.3263478740408408

// Behaviour is how the version behind a pod behaves.
type Behaviour struct {
	ErrorRate      float64 // share of requests answered 500, 0..1
	LatencyP50     float64 // median latency, seconds
	LatencyP99     float64 // 99th percentile latency, seconds
	CPU            float64 // cores in use
	Memory         float64 // working-set bytes at start
	MemoryGrowth   float64 // working-set bytes added per minute since start
	Load           float64 // CPU load average
	CPUPerRequest  float64 // core-seconds per request served, added to CPU
	LoadPerRequest float64 // load average per request per second served, added to Load
	StatusLabel    string  // label of the app's request metric carrying the status
}

// DefaultBehaviour is a healthy version: what unset annotations mean.
func DefaultBehaviour() Behaviour {
	return Behaviour{
		ErrorRate:   0.001,
		LatencyP50:  0.020,
		LatencyP99:  0.080,
		CPU:         0.1,
		Memory:      128 * 1024 * 1024,
		Load:        0.3,
		StatusLabel: "code",
	}
}

// ParseBehaviour reads a pod's annotations. Every invalid value is replaced by
// its default and described in the returned problems, so a typo never stops
// the simulation.
func ParseBehaviour(ann map[string]string) (Behaviour, []string) {
	b := DefaultBehaviour()
	var problems []string
	fail := func(key, val, form string) {
		problems = append(problems, fmt.Sprintf("%s=%q: want %s; using the default", key, val, form))
	}
	if v, ok := ann[AnnotationErrorRate]; ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 || math.IsNaN(f) {
			fail(AnnotationErrorRate, v, "a number in 0..1")
		} else {
			b.ErrorRate = f
		}
	}
	if v, ok := ann[AnnotationLatencyMS]; ok {
		p50, p99, err := parseLatency(v)
		if err != nil {
			fail(AnnotationLatencyMS, v, `"p50,p99" in milliseconds with 0 < p50 <= p99`)
		} else {
			b.LatencyP50, b.LatencyP99 = p50, p99
		}
	}
	parseNonNegative(ann, AnnotationCPU, &b.CPU, fail)
	parseNonNegative(ann, AnnotationLoad, &b.Load, fail)
	parseNonNegative(ann, AnnotationCPUPerRequest, &b.CPUPerRequest, fail)
	parseNonNegative(ann, AnnotationLoadPerRequest, &b.LoadPerRequest, fail)
	parseQuantity(ann, AnnotationMemory, &b.Memory, fail)
	parseQuantity(ann, AnnotationMemoryGrowth, &b.MemoryGrowth, fail)
	if v, ok := ann[AnnotationStatusLabel]; ok {
		if slices.Contains(StatusLabels, strings.TrimSpace(v)) {
			b.StatusLabel = strings.TrimSpace(v)
		} else {
			fail(AnnotationStatusLabel, v, "one of "+strings.Join(StatusLabels, ", "))
		}
	}
	return b, problems
}

func parseLatency(v string) (p50, p99 float64, err error) {
	parts := strings.Split(v, ",")
	if len(parts) != 2 {
		return 0, 0, fmt.Errorf("latency %q: want two values", v)
	}
	a, errA := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
	b, errB := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
	if errA != nil || errB != nil || !(a > 0) || b < a || math.IsInf(b, 0) {
		return 0, 0, fmt.Errorf("latency %q: want 0 < p50 <= p99", v)
	}
	return a / 1000, b / 1000, nil
}

func parseNonNegative(ann map[string]string, key string, dst *float64, fail func(k, v, form string)) {
	v, ok := ann[key]
	if !ok {
		return
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		fail(key, v, "a non-negative number")
		return
	}
	*dst = f
}

func parseQuantity(ann map[string]string, key string, dst *float64, fail func(k, v, form string)) {
	v, ok := ann[key]
	if !ok {
		return
	}
	q, err := resource.ParseQuantity(strings.TrimSpace(v))
	if err != nil || q.Sign() < 0 {
		fail(key, v, "a non-negative Kubernetes quantity such as 128Mi")
		return
	}
	*dst = q.AsApproximateFloat64()
}

// latencySigma is the log-normal sigma that puts the 99th percentile at p99.
func (b Behaviour) latencySigma() float64 {
	return (math.Log(b.LatencyP99) - math.Log(b.LatencyP50)) / z99
}

// SampleLatency draws one request duration in seconds.
func (b Behaviour) SampleLatency(r *rand.Rand) float64 {
	return b.LatencyP50 * math.Exp(b.latencySigma()*r.NormFloat64())
}

// MemoryAt is the noiseless working set after the pod ran for minutes.
func (b Behaviour) MemoryAt(minutes float64) float64 {
	if minutes < 0 {
		minutes = 0
	}
	return b.Memory + b.MemoryGrowth*minutes
}

// noisy applies a multiplicative normal noise of the given sigma, never
// returning a negative value.
func noisy(r *rand.Rand, v, sigma float64) float64 {
	return math.Max(0, v*(1+sigma*r.NormFloat64()))
}
