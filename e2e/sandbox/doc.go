// Package sandbox starts, inspects and stops the local test environment that
// rolloutd's end-to-end tests, demo and benchmarks run against: a real
// kube-apiserver, controller-manager and scheduler with kwok fake nodes (driven by
// kwokctl's binary runtime), Istio's CRDs, Prometheus, Alertmanager and the
// data-plane simulator.
//
// Everything lives under the repository's .sandbox folder: the kubeconfig, the
// configuration each component was started with, one PID file and one log per
// process, and an env file of KEY=VALUE facts that the e2e framework reads. The
// control-plane binaries come from the per-user cache filled by build-tools.sh,
// so that nothing is downloaded at start.
package sandbox
