package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// counter is an HTTP relay that counts what passes through it. Both tools talk
// to the API server and to Prometheus through one, so their requests are
// counted the same way, whatever metrics each exports about itself.
type counter struct {
	addr    string
	handler http.Handler
	count   func(*http.Request) bool // which requests to count
	n       atomic.Int64

	mu  sync.Mutex
	srv *http.Server // nil while down
}

func newCounter(target *url.URL, transport http.RoundTripper, count func(*http.Request) bool) (*counter, error) {
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = transport
	rp.FlushInterval = -1 // watches stream
	c := &counter{count: count}
	c.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.count(r) {
			c.n.Add(1)
		}
		rp.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c.addr = ln.Addr().String()
	c.serve(ln)
	return c, nil
}

func (c *counter) serve(ln net.Listener) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.srv = &http.Server{Handler: c.handler}
	go func(s *http.Server) { _ = s.Serve(ln) }(c.srv)
}

// URL is where clients reach the relay.
func (c *counter) URL() string { return "http://" + c.addr }

// Count is the number of counted requests so far.
func (c *counter) Count() int64 { return c.n.Load() }

// Down closes the listener and every open connection: clients get "connection
// refused", as from a Prometheus that is not running.
func (c *counter) Down() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv != nil {
		_ = c.srv.Close()
		c.srv = nil
	}
}

// Up listens again on the same address.
func (c *counter) Up() error {
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("relay %s up again: %w", c.addr, err)
	}
	c.serve(ln)
	return nil
}

// Close stops the relay for good.
func (c *counter) Close() { c.Down() }

// promRelay counts Prometheus queries (instant and range).
func promRelay(promURL string) (*counter, error) {
	u, err := url.Parse(promURL)
	if err != nil {
		return nil, fmt.Errorf("prometheus url %q: %w", promURL, err)
	}
	return newCounter(u, http.DefaultTransport, isQuery)
}

func isQuery(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/v1/query") }

// kubeRelay counts every API request (a watch counts once, when it starts),
// authenticating to the API server with cfg's credentials.
func kubeRelay(cfg *rest.Config) (*counter, error) {
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("api server url %q: %w", cfg.Host, err)
	}
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("api server transport: %w", err)
	}
	return newCounter(u, rt, func(*http.Request) bool { return true })
}

// writeKubeconfig writes a kubeconfig for the relay at server into dir.
func writeKubeconfig(dir, server string) (string, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["relay"] = &clientcmdapi.Cluster{Server: server}
	cfg.AuthInfos["relay"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["relay"] = &clientcmdapi.Context{Cluster: "relay", AuthInfo: "relay"}
	cfg.CurrentContext = "relay"
	// One file per relay: several tool processes run at once.
	f, err := os.CreateTemp(dir, "kubeconfig-relay-")
	if err != nil {
		return "", err
	}
	path := f.Name()
	_ = f.Close()
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// relays are the two counters a tool runs behind.
type relays struct {
	kube, prom *counter
	kubeconfig string
}

func startRelays(cfg *rest.Config, promURL, dir string) (*relays, error) {
	kube, err := kubeRelay(cfg)
	if err != nil {
		return nil, err
	}
	prom, err := promRelay(promURL)
	if err != nil {
		kube.Close()
		return nil, err
	}
	path, err := writeKubeconfig(dir, kube.URL())
	if err != nil {
		kube.Close()
		prom.Close()
		return nil, err
	}
	return &relays{kube: kube, prom: prom, kubeconfig: path}, nil
}

func (r *relays) Close() {
	r.kube.Close()
	r.prom.Close()
	_ = os.Remove(r.kubeconfig)
}
