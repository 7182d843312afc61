package config

import (
	"context"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJudgeIsOffUnlessTurnedOn(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		judge bool
		err   string
	}{
		{name: "unset means off", env: map[string]string{}},
		{name: "off", env: map[string]string{"ROLLOUTD_JUDGE": "off"}},
		{name: "on", env: map[string]string{"ROLLOUTD_JUDGE": "on"}, judge: true},
		{name: "case does not matter", env: map[string]string{"ROLLOUTD_JUDGE": "ON"}, judge: true},
		{name: "anything else is rejected naming the variable", env: map[string]string{"ROLLOUTD_JUDGE": "yes"},
			err: `ROLLOUTD_JUDGE: want on or off, got "yes"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadFrom(context.Background(), envconfig.MapLookuper(tc.env))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.judge, c.JudgeOptions() != nil)
		})
	}
}
