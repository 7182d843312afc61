// Package harness is what the sandbox benchmarks share: a client and a
// throwaway namespace, rolloutd run as a child process, opted-in apps behind
// router nginx, a watch that records when each canary loses its traffic, the
// Alertmanager webhook payload, and order statistics of the latencies.
package harness
