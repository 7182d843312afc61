package sandbox

import (
	"context"
	"fmt"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteServiceAccountKubeconfig writes to path a kubeconfig that authenticates as
// the ServiceAccount ns/name with a token from the TokenRequest API valid for ttl,
// against the API server admin reaches. A daemon run with it out of cluster has
// exactly that account's RBAC rights.
func WriteServiceAccountKubeconfig(ctx context.Context, kube kubernetes.Interface, admin *rest.Config,
	ns, name, path string, ttl time.Duration) error {
	secs := int64(ttl.Seconds())
	tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("token for serviceaccount %s/%s: %w", ns, name, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["sandbox"] = &clientcmdapi.Cluster{
		Server:                   admin.Host,
		CertificateAuthorityData: admin.CAData,
		CertificateAuthority:     admin.CAFile,
	}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["sandbox"] = &clientcmdapi.Context{Cluster: "sandbox", AuthInfo: name, Namespace: ns}
	cfg.CurrentContext = "sandbox"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig for %s/%s: %w", ns, name, err)
	}
	return nil
}
