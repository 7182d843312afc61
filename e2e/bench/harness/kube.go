package harness

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rolloutd/rolloutd/e2e/framework"
)

// Connect builds an admin client from kubeconfig, throttled at qps with burst.
func Connect(kubeconfig string, qps float32, burst int) (*rest.Config, kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = qps, burst
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, kube, nil
}

// Namespace creates namespace name and waits for its default ServiceAccount.
// drop deletes it and waits (up to timeout) until it is gone, so the pods it
// held no longer count on any node.
func Namespace(ctx context.Context, kube kubernetes.Interface, name string) (drop func(timeout time.Duration), err error) {
	if err := framework.CreateNamespace(ctx, kube, name, nil); err != nil {
		return nil, err
	}
	drop = func(timeout time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_ = framework.DeleteNamespace(ctx, kube, name)
		_ = framework.WaitNamespaceGone(ctx, kube, name)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		drop(time.Minute)
		return nil, fmt.Errorf("namespace %s: no default ServiceAccount: %w", name, err)
	}
	return drop, nil
}
