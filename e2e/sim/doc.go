// Package sim is the sandbox's data-plane simulator.
//
// It watches the live routing objects of a cluster (Services, Ingresses with
// ingress-nginx canary annotations, Istio VirtualServices and DestinationRules)
// and the pods behind them, generates a seeded stream of simulated requests for
// every user Service, sends each request where ingress-nginx, Istio or plain
// kube-proxy would, and exposes the resulting metrics under the names and label
// sets the ecosystem uses (see docs/metric-sources.md), so rolloutd's analysis
// runs the same queries against the sandbox as in production.
//
// How a version behaves (error rate, latency, CPU, memory, load) comes from
// its pod's sim.rolloutd.io/ annotations, so a bad release is a template change.
//
// The routing rules (nginx.go, istio.go) are pure functions from objects and
// request attributes to a backend choice; the engine (engine.go) turns them
// into counts per pod each tick; the metrics store (metrics.go) renders the
// aggregated state for Prometheus.
package sim
