package capacity

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestPickCIDRsSkipsTheOnesInUse(t *testing.T) {
	cases := []struct {
		name    string
		used    []string
		n       int
		want    []string
		wantErr bool
	}{
		{"none used", []string{"10.0.0.0/24"}, 2, []string{"10.200.0.0/24", "10.200.1.0/24"}, false},
		{"another pool's", []string{"10.200.0.0/24", "10.200.2.0/24"}, 2, []string{"10.200.1.0/24", "10.200.3.0/24"}, false},
		{"more than the range holds", nil, 257, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickCIDRs(tc.used, tc.n)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// A pod CIDR is never handed out twice while the cluster lives, even once the
// pool that had it is gone: kwok's IP pool for it may hold IPs never given back.
func TestFreeCIDRsNeverHandsOutACIDRTwice(t *testing.T) {
	kube := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-000000"},
		Spec: corev1.NodeSpec{PodCIDR: "10.0.0.0/24"}})
	first, err := freeCIDRs(t.Context(), kube, 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"10.200.0.0/24", "10.200.1.0/24"}, first)
	// No node uses them now (the pool was removed): they stay handed out.
	again, err := freeCIDRs(t.Context(), kube, 1)
	require.NoError(t, err)
	assert.Equal(t, []string{"10.200.2.0/24"}, again)
	cm, err := kube.CoreV1().ConfigMaps(recordNamespace).Get(t.Context(), recordName, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "10.200.0.0/24,10.200.1.0/24,10.200.2.0/24", cm.Data[recordKey])
}
