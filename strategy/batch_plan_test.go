package strategy

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rolloutd/rolloutd/strategy/contract"
)

func quantities(t *testing.T, batches string) []contract.Quantity {
	t.Helper()
	return mustSpec(t, contract.KeyStrategy, "batch", contract.KeyBatches, batches).Batches
}

func TestBatchTargets(t *testing.T) {
	cases := []struct {
		name    string
		batches string
		desired int32
		want    []int32
	}{
		{"contract example on 10", "1,25%,50%,100%", 10, []int32{1, 3, 5, 10}},
		{"percentages round up", "25%,50%,100%", 10, []int32{3, 5, 10}},
		{"odd count", "25%,50%,100%", 7, []int32{2, 4, 7}},
		{"one replica", "1,25%,50%,100%", 1, []int32{1, 1, 1, 1}},
		{"one replica, percentages never empty", "10%,100%", 1, []int32{1, 1}},
		{"100% in one batch", "100%", 10, []int32{10}},
		{"count above desired is capped", "5,20", 4, []int32{4, 4}},
		{"a later smaller batch never shrinks the canary", "5,25%,100%", 10, []int32{5, 5, 10}},
		{"1% of 3 is one pod", "1%,100%", 3, []int32{1, 3}},
		{"last batch below 100%", "20%,60%", 5, []int32{1, 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, BatchTargets(quantities(t, tc.batches), tc.desired))
		})
	}
}

func TestResolveLimits(t *testing.T) {
	cases := []struct {
		name    string
		kv      []string
		desired int32
		want    Limits
	}{
		{"default 25% surge rounds up", nil, 10, Limits{Surge: 3}},
		{"surge as count", []string{contract.KeyMaxSurge, "2"}, 10, Limits{Surge: 2}},
		{"surge 0 still moves one pod", []string{contract.KeyMaxSurge, "0"}, 10, Limits{Surge: 1}},
		{"surge 25% of 1", nil, 1, Limits{Surge: 1}},
		{"surge 10% of 7 rounds up", []string{contract.KeyMaxSurge, "10%"}, 7, Limits{Surge: 1}},
		{"unavailable as count", []string{contract.KeyRollingOrder, "delete-first", contract.KeyMaxUnavailable, "2"}, 10, Limits{Surge: 3, Unavailable: 2}},
		{"unavailable 25% of 10 rounds down", []string{contract.KeyRollingOrder, "delete-first", contract.KeyMaxUnavailable, "25%"}, 10, Limits{Surge: 3, Unavailable: 2}},
		{"unavailable 10% of 3 is at least one", []string{contract.KeyRollingOrder, "delete-first", contract.KeyMaxUnavailable, "10%"}, 3, Limits{Surge: 1, Unavailable: 1}},
		{"unavailable ignored for create-first", []string{contract.KeyMaxUnavailable, "10%"}, 3, Limits{Surge: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp := mustSpec(t, append([]string{contract.KeyStrategy, "batch"}, tc.kv...)...)
			assert.Equal(t, tc.want, ResolveLimits(sp, tc.desired))
		})
	}
}

func TestNextMove(t *testing.T) {
	lim := Limits{Surge: 2, Unavailable: 2}
	cases := []struct {
		name      string
		order     contract.RollingOrder
		pods      Pods
		ready     int32
		target    int32
		want      Pods
		wantState MoveState
	}{
		{"create-first grows by surge", contract.CreateFirst, Pods{0, 10}, 0, 5, Pods{2, 10}, Moved},
		{"create-first grows by what is left", contract.CreateFirst, Pods{4, 6}, 4, 5, Pods{5, 6}, Moved},
		{"create-first waits for the new pods", contract.CreateFirst, Pods{2, 10}, 1, 5, Pods{2, 10}, AwaitReady},
		{"create-first shrinks once they are Ready", contract.CreateFirst, Pods{2, 10}, 2, 5, Pods{2, 8}, Moved},
		{"delete-first shrinks first", contract.DeleteFirst, Pods{0, 10}, 0, 5, Pods{0, 8}, Moved},
		{"delete-first then grows", contract.DeleteFirst, Pods{0, 8}, 0, 5, Pods{2, 8}, Moved},
		{"delete-first waits before the next chunk", contract.DeleteFirst, Pods{2, 8}, 1, 5, Pods{2, 8}, AwaitReady},
		{"delete-first last chunk is partial", contract.DeleteFirst, Pods{4, 6}, 4, 5, Pods{4, 5}, Moved},
		{"done at target and Ready", contract.CreateFirst, Pods{5, 5}, 5, 5, Pods{5, 5}, Done},
		{"done above target (desired shrank)", contract.CreateFirst, Pods{5, 5}, 5, 4, Pods{5, 5}, Done},
		{"not done while at target but not Ready", contract.CreateFirst, Pods{5, 5}, 4, 5, Pods{5, 5}, AwaitReady},
		{"a shrinking side never goes negative", contract.CreateFirst, Pods{10, 2}, 10, 10, Pods{10, 0}, Moved},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, state := NextMove(Move{Pods: tc.pods, Ready: tc.ready, Desired: 10, Target: tc.target, Order: tc.order, Limits: lim})
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantState, state)
		})
	}
}

// walk drives NextMove to a batch target the way the cluster would: grown pods
// become Ready before the next call. It checks the limits after every move and
// returns the number of moves.
func walk(t *testing.T, p Pods, desired, target int32, order contract.RollingOrder, lim Limits) (Pods, int) {
	t.Helper()
	ready := p.Grow
	moves := 0
	for calls := 0; ; calls++ {
		require.Less(t, calls, 200, "no progress from %+v", p)
		next, state := NextMove(Move{Pods: p, Ready: ready, Desired: desired, Target: target, Order: order, Limits: lim})
		switch state {
		case Done:
			return next, moves
		case AwaitReady:
			ready = next.Grow
			continue
		}
		moves++
		require.True(t, (next.Grow != p.Grow) != (next.Shrink != p.Shrink), "one side per move: %+v -> %+v", p, next)
		total := next.Grow + next.Shrink
		assert.LessOrEqual(t, total, desired+lim.Surge, "at most max-surge extra pods (%+v)", next)
		readyNow := min(ready, next.Grow) + next.Shrink
		if order == contract.DeleteFirst {
			assert.GreaterOrEqual(t, readyNow, desired-lim.Unavailable, "Ready never below desired - max-unavailable (%+v)", next)
		} else {
			assert.LessOrEqual(t, next.Grow-ready, lim.Surge)
			assert.GreaterOrEqual(t, readyNow, desired, "create-first never drops below desired Ready (%+v)", next)
		}
		p = next
	}
}

func TestWholeReleasesRespectTheLimits(t *testing.T) {
	for _, desired := range []int32{1, 2, 3, 7, 10, 11} {
		for _, order := range []string{"create-first", "delete-first"} {
			for _, q := range []string{"1", "2", "25%", "50%", "100%"} {
				name := fmt.Sprintf("%d replicas %s %s", desired, order, q)
				t.Run(name, func(t *testing.T) {
					kv := []string{contract.KeyStrategy, "batch", contract.KeyBatches, "1,25%,50%,100%", contract.KeyRollingOrder, order}
					if order == "delete-first" {
						kv = append(kv, contract.KeyMaxUnavailable, q, contract.KeyMaxSurge, "0")
					} else {
						kv = append(kv, contract.KeyMaxSurge, q)
					}
					sp := mustSpec(t, kv...)
					lim := ResolveLimits(sp, desired)
					p := Pods{Grow: 0, Shrink: desired}
					for _, target := range BatchTargets(sp.Batches, desired) {
						p, _ = walk(t, p, desired, target, sp.RollingOrder, lim)
						assert.Equal(t, target, p.Grow)
						assert.Equal(t, desired, p.Grow+p.Shrink, "a finished batch runs exactly the desired count")
					}
					assert.Equal(t, Pods{Grow: desired}, p, "every pod moved")
					// Reversal: the other side grows back to the full count.
					back, _ := walk(t, Pods{Grow: p.Shrink, Shrink: p.Grow}, desired, desired, sp.RollingOrder, lim)
					assert.Equal(t, Pods{Grow: desired}, back)
				})
			}
		}
	}
}

func TestChunkCountFollowsTheLimit(t *testing.T) {
	sp := mustSpec(t, contract.KeyStrategy, "batch", contract.KeyMaxSurge, "1")
	_, moves := walk(t, Pods{Shrink: 10}, 10, 5, contract.CreateFirst, ResolveLimits(sp, 10))
	assert.Equal(t, 10, moves, "5 pods one at a time: a grow and a shrink each")
	sp = mustSpec(t, contract.KeyStrategy, "batch", contract.KeyMaxSurge, "100%")
	_, moves = walk(t, Pods{Shrink: 10}, 10, 10, contract.CreateFirst, ResolveLimits(sp, 10))
	assert.Equal(t, 2, moves, "100% surge moves everything in one chunk")
}

func TestRebaseFollowsSomeoneElsesScaling(t *testing.T) {
	cases := []struct {
		name     string
		b        contract.BatchStatus
		observed int32
		want     contract.BatchStatus
	}{
		{"unchanged", contract.BatchStatus{Desired: 10, Stable: 7, Canary: 3}, 7, contract.BatchStatus{Desired: 10, Stable: 7, Canary: 3}},
		{"HPA scales up mid-release", contract.BatchStatus{Desired: 10, Stable: 7, Canary: 3}, 9, contract.BatchStatus{Desired: 12, Stable: 9, Canary: 3}},
		{"HPA scales down mid-release: the total stays", contract.BatchStatus{Desired: 10, Stable: 7, Canary: 3}, 4, contract.BatchStatus{Desired: 10, Stable: 4, Canary: 3}},
		{"scaled up during a surge", contract.BatchStatus{Desired: 10, Stable: 10, Canary: 2}, 11, contract.BatchStatus{Desired: 11, Stable: 11, Canary: 2}},
		{"scaled to zero: the total stays", contract.BatchStatus{Desired: 2, Stable: 1, Canary: 0}, 0, contract.BatchStatus{Desired: 2, Stable: 0, Canary: 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Rebase(tc.b, tc.observed))
		})
	}
}

func TestHPAChangeMidReleaseReplansTheNextBatch(t *testing.T) {
	sp := mustSpec(t, contract.KeyStrategy, "batch", contract.KeyBatches, "1,25%,50%,100%")
	// Batch 2 finished on 10 pods: 3 new, 7 old. The HPA then adds 4 old pods.
	b := Rebase(contract.BatchStatus{Desired: 10, Stable: 7, Canary: 3}, 11)
	require.Equal(t, int32(14), b.Desired)
	targets := BatchTargets(sp.Batches, b.Desired)
	assert.Equal(t, []int32{1, 4, 7, 14}, targets, "batches are shares of the new desired count")
	p, _ := walk(t, Pods{Grow: b.Canary, Shrink: b.Stable}, b.Desired, targets[2], contract.CreateFirst, ResolveLimits(sp, b.Desired))
	assert.Equal(t, Pods{Grow: 7, Shrink: 7}, p, "the HPA's pods are kept: 14 in all")
}

// A shrink is written before the other side grows; if the resize failed or its
// pods still run, growing would add to them.
func TestNextMoveGrowsOnlyOnceTheShrinkTookEffect(t *testing.T) {
	m := Move{Pods: Pods{Grow: 0, Shrink: 8}, Desired: 10, Target: 10, Order: contract.DeleteFirst,
		Limits: Limits{Surge: 2, Unavailable: 2}}
	for _, observed := range []int32{10, 9} {
		m.ShrinkPods = observed
		got, state := NextMove(m)
		assert.Equal(t, Pods{Grow: 0, Shrink: 8}, got, "%d pods still run on the shrinking side", observed)
		assert.Equal(t, AwaitReady, state)
	}
	m.ShrinkPods = 8
	got, state := NextMove(m)
	assert.Equal(t, Pods{Grow: 2, Shrink: 8}, got)
	assert.Equal(t, Moved, state)
}

// With create-first the shrink ends a chunk, and the next chunk's growth waits
// until the shrunk side's pods are gone: growing on top of them would pass
// max-surge (seen on the sandbox: 12 pods for 10 desired and a surge of 1).
func TestNextMoveCreateFirstGrowsOnlyOnceTheShrinkTookEffect(t *testing.T) {
	m := Move{Pods: Pods{Grow: 8, Shrink: 2}, Ready: 8, Desired: 10, Target: 10, Order: contract.CreateFirst,
		Limits: Limits{Surge: 1}, ShrinkPods: 3}
	got, state := NextMove(m)
	assert.Equal(t, Pods{Grow: 8, Shrink: 2}, got, "a third pod still runs on the shrinking side")
	assert.Equal(t, AwaitReady, state)
	m.ShrinkPods = 2
	got, state = NextMove(m)
	assert.Equal(t, Pods{Grow: 9, Shrink: 2}, got)
	assert.Equal(t, Moved, state)
}
