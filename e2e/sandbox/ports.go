package sandbox

import (
	"fmt"
	"os"
	"strconv"
)

// PortOffsetEnv names the environment variable that shifts every sandbox
// port by a number, so that a second sandbox (another checkout, a check of
// `down` while the shared one keeps running) can run beside the first. The
// default, 0, gives the addresses of the contract (Prometheus on 9090,
// Alertmanager on 9093, simulator on 9101).
const PortOffsetEnv = "ROLLOUTD_SANDBOX_PORT_OFFSET"

// Ports are the loopback ports of one sandbox. The control plane's are fixed
// too, so that two sandboxes never race for the same random port and the
// addresses stay stable across restarts.
type Ports struct {
	Prometheus, Alertmanager, Simulator                           int
	APIServer, Etcd, EtcdPeer, ControllerManager, Scheduler, Kwok int
}

// portsFromEnv applies PortOffsetEnv to the default ports.
func portsFromEnv() (Ports, error) {
	offset := 0
	if s := os.Getenv(PortOffsetEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 20000 {
			return Ports{}, fmt.Errorf("%s=%q: want a number from 0 to 20000", PortOffsetEnv, s)
		}
		offset = n
	}
	return Ports{
		Prometheus: 9090 + offset, Alertmanager: 9093 + offset, Simulator: 9101 + offset,
		APIServer: 16443 + offset, Etcd: 12379 + offset, EtcdPeer: 12380 + offset,
		ControllerManager: 12257 + offset, Scheduler: 12259 + offset, Kwok: 12247 + offset,
	}, nil
}

func loopback(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// PrometheusAddr is Prometheus' host:port.
func (l Layout) PrometheusAddr() string { return loopback(l.Ports.Prometheus) }

// AlertmanagerAddr is Alertmanager's host:port.
func (l Layout) AlertmanagerAddr() string { return loopback(l.Ports.Alertmanager) }

// SimulatorAddr is the simulator's host:port.
func (l Layout) SimulatorAddr() string { return loopback(l.Ports.Simulator) }

// APIServerURL is the cluster's API endpoint.
func (l Layout) APIServerURL() string { return "https://" + loopback(l.Ports.APIServer) }

// clusterPorts lists the control-plane ports to verify free before a start.
func (l Layout) clusterPorts() []struct {
	port int
	what string
} {
	p := l.Ports
	return []struct {
		port int
		what string
	}{
		{p.APIServer, "kube-apiserver"}, {p.Etcd, "etcd"}, {p.EtcdPeer, "etcd (peer)"},
		{p.ControllerManager, "kube-controller-manager"}, {p.Scheduler, "kube-scheduler"}, {p.Kwok, "kwok"},
	}
}
