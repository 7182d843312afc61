package framework

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/clientcmd"
)

func TestWithFlagReplacesEveryFormOfTheFlag(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{name: "name=value", args: []string{"--a=1", "--secure-port=16443", "--b=2"},
			want: []string{"--a=1", "--b=2", "--secure-port=20000"}},
		{name: "name value", args: []string{"--secure-port", "16443", "--b=2"},
			want: []string{"--b=2", "--secure-port=20000"}},
		{name: "absent", args: []string{"--a=1"}, want: []string{"--a=1", "--secure-port=20000"}},
		{name: "a longer flag with the same prefix is kept", args: []string{"--secure-port-x=1"},
			want: []string{"--secure-port-x=1", "--secure-port=20000"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, withFlag(tc.args, "secure-port", "20000"))
		})
	}
}

func TestWriteKubeconfigForKeepsCredentialsAndChangesTheServer(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	require.NoError(t, os.WriteFile(src, []byte(`apiVersion: v1
kind: Config
clusters:
- cluster: {certificate-authority: /pki/ca.crt, server: "https://127.0.0.1:16443"}
  name: c
users:
- name: u
  user: {client-certificate: /pki/admin.crt, client-key: /pki/admin.key}
contexts:
- context: {cluster: c, user: u}
  name: x
current-context: x
`), 0o600))

	require.NoError(t, writeKubeconfigFor(src, dst, "https://127.0.0.1:20000"))

	got, err := clientcmd.LoadFromFile(dst)
	require.NoError(t, err)
	assert.Equal(t, "https://127.0.0.1:20000", got.Clusters["c"].Server)
	assert.Equal(t, "/pki/ca.crt", got.Clusters["c"].CertificateAuthority)
	assert.Equal(t, "/pki/admin.key", got.AuthInfos["u"].ClientKey)
	assert.Equal(t, "x", got.CurrentContext)
}

func TestSandboxAPIServerArgsRefusesAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	_, err := sandboxAPIServerArgs(dir)
	assert.ErrorContains(t, err, "make sandbox", "no PID file")

	pid := strconv.Itoa(os.Getpid())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kube-apiserver.pid"), []byte(pid+" 123\n"), 0o644))
	_, err = sandboxAPIServerArgs(dir)
	assert.ErrorContains(t, err, "not the sandbox's kube-apiserver")
}
