package contract

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseNotifyChoosesChannels(t *testing.T) {
	cases := []struct {
		value string
		want  []string
	}{
		{"", nil},
		{"none", []string{}},
		{"slack", []string{"slack"}},
		{" slack , webhook,slack", []string{"slack", "webhook"}},
		{"teams,webhook", []string{"teams", "webhook"}},
	}
	for _, c := range cases {
		t.Run(c.value, func(t *testing.T) {
			s, err := Parse("web", enabledWith(KeyNotify, c.value))
			require.NoError(t, err)
			assert.Equal(t, c.want, s.Notify)
		})
	}
}

func TestParseNotifyRejectsAnUnknownChannel(t *testing.T) {
	_, err := Parse("web", enabledWith(KeyNotify, "slack,email"))
	errs := invalidErrors(t, err)
	require.Len(t, errs, 1)
	assert.Equal(t, KeyNotify, errs[0].Key)
	assert.Contains(t, errs[0].Error(), "slack, teams, webhook")
}
