package framework

import (
	"fmt"
	"path/filepath"
	"testing"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ServiceAccountKubeconfig writes a kubeconfig that authenticates as the
// ServiceAccount ns/name with a one-hour token (TokenRequest), so that a
// daemon can run out of cluster with exactly that account's RBAC rights. It
// returns the file's path, inside the test's temporary folder.
func (e *Env) ServiceAccountKubeconfig(t testing.TB, ns, name string) string {
	t.Helper()
	hour := int64(3600)
	tr, err := e.Kube.CoreV1().ServiceAccounts(ns).CreateToken(t.Context(), name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &hour}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for serviceaccount %s/%s: %v", ns, name, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["sandbox"] = &clientcmdapi.Cluster{
		Server:                   e.RESTConfig.Host,
		CertificateAuthorityData: e.RESTConfig.CAData,
		CertificateAuthority:     e.RESTConfig.CAFile,
	}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["sandbox"] = &clientcmdapi.Context{Cluster: "sandbox", AuthInfo: name, Namespace: ns}
	cfg.CurrentContext = "sandbox"
	path := filepath.Join(t.TempDir(), fmt.Sprintf("kubeconfig-%s-%s", ns, name))
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatalf("write kubeconfig for %s/%s: %v", ns, name, err)
	}
	return path
}
