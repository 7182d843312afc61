// Package harness is what the sandbox benchmarks share: their main (an
// interruptible run and its exit code, the -kubeconfig and -prometheus flags),
// a client and a throwaway namespace, rolloutd run as a child process,
// opted-in apps behind router nginx, a watch that records when each canary
// loses its traffic, the Alertmanager webhook payload, a /metrics page's
// families, and order statistics of the latencies. The daemon process, the
// namespace and the app objects are e2e/framework's (Rolloutd,
// CreateNamespace, App), the same the e2e tests use; harness adds a
// benchmark's policies: errors instead of a failed test, a fresh log per run,
// /readyz, a stop that waits out a slow drain.
package harness
