//go:build e2e

package sandbox_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rolloutd/rolloutd/e2e/framework"
)

// Given a ServiceAccount's token (TokenRequest), a client using it has only
// the rights RBAC grants that account: none at first, then what a Role binds.
func TestSandboxServiceAccountTokenHasOnlyItsRBACRights(t *testing.T) {
	t.Parallel()
	env := framework.Get(t)
	ns := env.Namespace(t)
	ctx := t.Context()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: ns}}
	if _, err := env.Kube.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create serviceaccount: %v", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", env.ServiceAccountKubeconfig(t, ns, "reader"))
	if err != nil {
		t.Fatal(err)
	}
	asReader := kubernetes.NewForConfigOrDie(cfg)

	_, err = asReader.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("listing pods without a Role: got %v, want Forbidden", err)
	}

	grantPodReader(t, env, ns, "reader")
	framework.Eventually(t, 10*time.Second, "the Role to take effect", func() (bool, error) {
		_, err := asReader.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		return err == nil, err
	})
	_, err = asReader.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("listing secrets with a pod-reader Role: got %v, want Forbidden", err)
	}
}

func grantPodReader(t *testing.T, env *framework.Env, ns, sa string) {
	t.Helper()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-reader", Namespace: ns},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-reader", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}},
	}
	if _, err := env.Kube.RbacV1().Roles(ns).Create(t.Context(), role, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create role: %v", err)
	}
	if _, err := env.Kube.RbacV1().RoleBindings(ns).Create(t.Context(), binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create rolebinding: %v", err)
	}
}
