package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rolloutd/rolloutd/internal/status"
)

func TestBatchReleasesShowBatchAndPods(t *testing.T) {
	cases := []struct {
		name string
		st   status.Status
		step string
	}{
		{"canary step", status.Status{Step: 2, Steps: 5}, "2/5"},
		{"batch", status.Status{Step: 2, Steps: 4, Batch: &status.Batch{Desired: 10, Stable: 7, Canary: 3}}, "batch 2/4"},
		{"not started", status.Status{}, "-"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.step, stepText(tc.st))
		})
	}
	assert.Equal(t, "7 old, 3 new (of 10)", batchPods(&status.Batch{Desired: 10, Stable: 7, Canary: 3}))
}
