package traffic

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCanaryReplicasIsProportionalRoundedUpAndAtLeastOne(t *testing.T) {
	cases := []struct {
		desired int32
		weight  int
		want    int32
	}{
		{10, 10, 1},
		{10, 25, 3},
		{10, 50, 5},
		{10, 100, 10},
		{4, 10, 1},
		{4, 30, 2},
		{3, 1, 1},
		{10, 0, 1}, // the canary exists before it gets traffic
		{1, 100, 1},
		{0, 50, 1}, // scaled to zero: one pod to judge
		{-1, 50, 1},
		{10, 150, 10}, // never more than the stable
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, CanaryReplicas(tc.desired, tc.weight), "desired %d weight %d", tc.desired, tc.weight)
	}
}

func TestSplitValidateRejectsOutOfRangeShares(t *testing.T) {
	cases := []struct {
		name  string
		split Split
		ok    bool
	}{
		{"all stable", Split{}, true},
		{"all canary", Split{CanaryWeight: 100}, true},
		{"negative weight", Split{CanaryWeight: -1}, false},
		{"weight over 100", Split{CanaryWeight: 101}, false},
		{"mirror over 100", Split{MirrorPercent: 120}, false},
		{"negative mirror", Split{MirrorPercent: -5}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.split.Validate()
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

func TestAllStableOnlyWhenNoRequestCanReachTheCanary(t *testing.T) {
	assert.True(t, Split{}.AllStable())
	assert.True(t, Split{Sticky: true}.AllStable())
	assert.False(t, Split{CanaryWeight: 1}.AllStable())
	assert.False(t, Split{MirrorPercent: 5}.AllStable())
	assert.False(t, Split{Match: &Match{Kind: MatchCookie, Name: "canary"}}.AllStable())
}

func TestMatchStringUsesTheAnnotationForm(t *testing.T) {
	assert.Equal(t, "cookie:canary", Match{Kind: MatchCookie, Name: "canary"}.String())
	assert.Equal(t, "header:x-canary=always", Match{Kind: MatchHeader, Name: "x-canary", Value: "always"}.String())
	assert.Equal(t, "header:x-user~^a", Match{Kind: MatchHeader, Name: "x-user", Value: "^a", Regex: true}.String())
}
