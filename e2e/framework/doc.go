// Package framework is what rolloutd's end-to-end tests use to work on the
// running sandbox (see package sandbox and `make sandbox`): Get connects to it,
// Namespace gives each test its own namespace, Eventually waits for a
// condition with a deadline, PromValue and PromVector query Prometheus,
// StartDaemon runs rolloutd as a local process against the sandbox (through
// Rolloutd, which the benchmark programs of e2e/bench/harness share), App
// makes the simulator's demo application, StartAPIServer runs a second
// kube-apiserver on the sandbox's etcd that one test may kill and restart,
// and SetAlertmanagerWebhook and WriteRule change what Alertmanager and
// Prometheus do for one test.
//
// Tests carry the build tag e2e, call t.Parallel() and use their own
// namespace:
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		env := framework.Get(t)
//		ns := env.Namespace(t)
//		...
//		framework.Eventually(t, 30*time.Second, "3 ready replicas", func() (bool, error) { ... })
//	}
package framework
