package capacity

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
