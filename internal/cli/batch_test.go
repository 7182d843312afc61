package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func TestBatchReleasesShowBatchAndPods(t *testing.T) {
	cases := []struct {
		name string
		st   contract.Status
		step string
	}{
		{"canary step", contract.Status{Step: 2, Steps: 5}, "2/5"},
		{"batch", contract.Status{Step: 2, Steps: 4, Batch: &contract.BatchStatus{Desired: 10, Stable: 7, Canary: 3}}, "batch 2/4"},
		{"not started", contract.Status{}, "-"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.step, stepText(tc.st))
		})
	}
	assert.Equal(t, "7 old, 3 new (of 10)", batchPods(&contract.BatchStatus{Desired: 10, Stable: 7, Canary: 3}))
}
