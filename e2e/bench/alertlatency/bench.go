package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rolloutd/rolloutd/internal/status"
)

// daemonAddr is Alertmanager's default webhook target in the sandbox.
const daemonAddr = "127.0.0.1:18080"

type env struct {
	o     options
	kube  kubernetes.Interface
	ns    string
	token string
	// gone records when each canary Ingress lost its traffic (deleted).
	mu   sync.Mutex
	gone map[string]time.Time
}

func bench(ctx context.Context, o options) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(o.root, ".sandbox", "kubeconfig"))
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 200, 400
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(o.root, ".sandbox", "alertmanager", "token")
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return fmt.Errorf("read the sandbox's webhook token: %w", err)
	}
	e := &env{o: o, kube: kube, ns: "bench-alerts-" + rand.String(5), token: strings.TrimSpace(string(tok)), gone: map[string]time.Time{}}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	defer func() { _ = kube.CoreV1().Namespaces().Delete(context.Background(), e.ns, metav1.DeleteOptions{}) }()
	if err := waitServiceAccount(ctx, kube, e.ns); err != nil {
		return err
	}
	stopDaemon, err := startDaemon(o.root, e.ns, tokenFile)
	if err != nil {
		return err
	}
	defer stopDaemon()
	if err := e.watchIngresses(ctx); err != nil {
		return err
	}
	total := o.rollouts + o.viaAM
	fmt.Printf("namespace %s: %d rollouts (router nginx, canary at 50%%)\n", e.ns, total)
	names, err := e.startRollouts(ctx, total)
	if err != nil {
		return err
	}
	direct := e.viaWebhook(ctx, names[:o.rollouts])
	am, err := e.viaAlertmanager(ctx, cfg.Host, names[o.rollouts:])
	if err != nil {
		return err
	}
	fmt.Println()
	fmt.Println("| path to canary traffic 0 (canary Ingress deleted) | n | p50 | p99 | max |")
	fmt.Println("|---|---|---|---|---|")
	fmt.Println(summarise(direct).row("webhook request arrives"))
	s := summarise(am)
	fmt.Println(s.row("alert active in Prometheus (via Alertmanager)"))
	if s.n > 0 {
		fmt.Printf("\nFlagger's worst case with its defaults: %.0f s; rolloutd's worst via Alertmanager: %.2f s (%.0fx faster)\n",
			o.flaggerSec, s.max.Seconds(), o.flaggerSec/s.max.Seconds())
	}
	return nil
}

func waitServiceAccount(ctx context.Context, kube kubernetes.Interface, ns string) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

func startDaemon(root, ns, tokenFile string) (func(), error) {
	logPath := filepath.Join(root, ".sandbox", "logs", "rolloutd-"+ns+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(root, "bin", "rolloutd"), "--kubeconfig", filepath.Join(root, ".sandbox", "kubeconfig"))
	cmd.Env = append(os.Environ(), "ROLLOUTD_NAMESPACES="+ns, "ROLLOUTD_HTTP_ADDR="+daemonAddr,
		"ROLLOUTD_PROMETHEUS_URL=http://127.0.0.1:9090", "ROLLOUTD_LEADER_ELECT=false",
		"ROLLOUTD_WEBHOOK_TOKEN_FILE="+tokenFile, "ROLLOUTD_LOG_FORMAT=console", "ROLLOUTD_KUBE_QPS=200", "ROLLOUTD_KUBE_BURST=400")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start bin/rolloutd (go build -o bin/ ./cmd/rolloutd): %w", err)
	}
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		_ = logf.Close()
	}
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		resp, err := http.Get("http://" + daemonAddr + "/readyz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("daemon not ready (log %s): %w", logPath, err)
	}
	return stop, nil
}

// watchIngresses records when each canary Ingress is deleted: the moment no
// request can reach the canary any more.
func (e *env) watchIngresses(ctx context.Context) error {
	w, err := e.kube.NetworkingV1().Ingresses(e.ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			ing, ok := ev.Object.(*networkingv1.Ingress)
			if ok && ev.Type == watch.Deleted && strings.HasSuffix(ing.Name, "-canary") {
				e.mu.Lock()
				e.gone[strings.TrimSuffix(ing.Name, "-canary")] = time.Now()
				e.mu.Unlock()
			}
		}
	}()
	return nil
}

func (e *env) goneAt(name string) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.gone[name]
	return t, ok
}

// startRollouts creates n opted-in apps, releases a new template on each and waits
// until every canary holds 50% of the traffic.
func (e *env) startRollouts(ctx context.Context, n int) ([]string, error) {
	var names []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("app%03d", i)
		if err := e.createApp(ctx, name); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		ready := 0
		for _, name := range names {
			d, err := e.kube.AppsV1().Deployments(e.ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			st, _ := status.Read(d.Annotations)
			if st.Phase == status.Idle && d.Spec.Template.Spec.Containers[0].Image == "example.com/app:v1" && d.Status.ReadyReplicas == 1 {
				if err := e.release(ctx, name); err != nil {
					return false, err
				}
			}
			if st.Phase == status.Progressing && st.Weight == 50 {
				ready++
			}
		}
		fmt.Printf("\r  canaries at 50%%: %d/%d", ready, len(names))
		return ready == len(names), nil
	})
	fmt.Println()
	return names, err
}

func (e *env) createApp(ctx context.Context, name string) error {
	one := int32(1)
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{
			"rolloutd.io/enabled": "true", "rolloutd.io/router": "nginx", "rolloutd.io/steps": "50", "rolloutd.io/interval": "30m"}},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app:v1"}}}}},
	}
	if _, err := e.kube.AppsV1().Deployments(e.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return err
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"sim.rolloutd.io/rps": "5"}},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
	if _, err := e.kube.CoreV1().Services(e.ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return err
	}
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
		Host: name + ".example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: name, Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}}
	_, err := e.kube.NetworkingV1().Ingresses(e.ns).Create(ctx, ing, metav1.CreateOptions{})
	return err
}

func (e *env) release(ctx context.Context, name string) error {
	d, err := e.kube.AppsV1().Deployments(e.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	d.Spec.Template.Spec.Containers[0].Image = "example.com/app:v2"
	_, err = e.kube.AppsV1().Deployments(e.ns).Update(ctx, d, metav1.UpdateOptions{})
	return err
}
