package httpapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func takeSlot(t *testing.T, s *Server) {
	t.Helper()
	require.True(t, s.inflight.enter(context.Background(), lineNew, -1), "a free slot")
}

func freeSlots(g *gate) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.free
}

// TestGateOrder: freed slots go to the woken line first, each line first
// come, first served, whatever the order the requests arrived in.
func TestGateOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		arrive  []int // the line of each waiting request, in arrival order
		granted []int // indexes into arrive, in the order they get a slot
	}{
		{"new only, in arrival order", []int{lineNew, lineNew, lineNew}, []int{0, 1, 2}},
		{"woken only, in arrival order", []int{lineWoken, lineWoken}, []int{0, 1}},
		{"a woken request passes the new ones", []int{lineNew, lineNew, lineWoken}, []int{2, 0, 1}},
		{"woken first, each line in order", []int{lineNew, lineWoken, lineNew, lineWoken}, []int{1, 3, 0, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate(1, 10)
			require.True(t, g.enter(context.Background(), lineNew, -1))
			got := make(chan int, len(tc.arrive))
			var wg sync.WaitGroup
			for i, line := range tc.arrive {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if g.enter(context.Background(), line, time.Minute) {
						got <- i
					}
				}()
				require.Eventually(t, func() bool { return g.queued() == i+1 }, time.Second, time.Millisecond)
			}
			var order []int
			for range tc.arrive {
				g.leave()
				select {
				case i := <-got:
					order = append(order, i)
				case <-time.After(5 * time.Second):
					t.Fatal("a freed slot reached nobody")
				}
			}
			wg.Wait()
			assert.Equal(t, tc.granted, order)
			g.leave()
			assert.Equal(t, 1, freeSlots(g), "every slot back")
			assert.Zero(t, g.queued())
		})
	}
}

// TestGateRefusals: a full line of new requests, a wait that ends, a client
// that leaves and no waiting at all each give no slot and leave no trace.
func TestGateRefusals(t *testing.T) {
	g := newGate(1, 1)
	require.True(t, g.enter(context.Background(), lineNew, -1))

	assert.False(t, g.enter(context.Background(), lineNew, -1), "wait < 0: refused at once")
	start := time.Now()
	assert.False(t, g.enter(context.Background(), lineNew, 30*time.Millisecond), "no slot within the wait")
	assert.GreaterOrEqual(t, time.Since(start), 30*time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- g.enter(ctx, lineNew, time.Minute) }()
	require.Eventually(t, func() bool { return g.queued() == 1 }, time.Second, time.Millisecond)
	start = time.Now()
	assert.False(t, g.enter(context.Background(), lineNew, time.Minute), "the line of new requests is full")
	assert.Less(t, time.Since(start), time.Second, "refused without waiting")
	woken := make(chan bool)
	go func() { woken <- g.enter(context.Background(), lineWoken, time.Minute) }()
	require.Eventually(t, func() bool { return g.queued() == 2 }, time.Second, time.Millisecond,
		"the bound is on new requests only: parked ones are bounded by SURGE_MAX_WAITERS")
	cancel()
	assert.False(t, <-done, "the client left")
	assert.Equal(t, 1, g.queued())

	g.leave()
	assert.True(t, <-woken)
	g.leave()
	assert.Equal(t, 1, freeSlots(g))
	assert.Zero(t, g.queued())
}

// TestGateUnderRace: many requests entering with short waits and leaving;
// the slots in use never pass the bound and all come back.
func TestGateUnderRace(t *testing.T) {
	const slots = 3
	g := newGate(slots, 8)
	var mu sync.Mutex
	inUse, peak := 0, 0
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !g.enter(context.Background(), i%2, time.Duration(i%5)*time.Millisecond) {
				return
			}
			mu.Lock()
			inUse++
			peak = max(peak, inUse)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			inUse--
			mu.Unlock()
			g.leave()
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, peak, slots)
	assert.Equal(t, slots, freeSlots(g))
	assert.Zero(t, g.queued())
}
