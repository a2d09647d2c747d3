package httpapi

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// The two lines of the gate, served in this order.
const (
	lineWoken = iota // parked requests that woke to read their state
	lineNew          // requests arriving
	lines
)

// gate is the in-flight bound (SURGE_MAX_INFLIGHT). A request that finds
// every slot taken waits, up to a deadline, in one of two lines, each first
// come, first served. A freed slot goes to the line of parked requests that
// woke before the line of new ones: at the opening second a student whose
// seat has just been granted would otherwise wait for a slot behind the
// thousands of clicks that came after theirs.
type gate struct {
	mu     sync.Mutex
	free   int
	line   [lines]list.List // of chan struct{}, closed when handed a slot
	maxNew int              // bound of the line of new requests
}

func newGate(slots, maxNew int) *gate {
	return &gate{free: slots, maxNew: maxNew}
}

// enter takes a slot: at once if one is free, otherwise after waiting in
// line for at most wait (wait < 0: never). False: no slot came, the line of
// new requests is full, or ctx ended.
func (g *gate) enter(ctx context.Context, line int, wait time.Duration) bool {
	g.mu.Lock()
	if g.free > 0 {
		g.free--
		g.mu.Unlock()
		return true
	}
	if wait < 0 || (line == lineNew && g.line[lineNew].Len() >= g.maxNew) {
		g.mu.Unlock()
		return false
	}
	handed := make(chan struct{})
	e := g.line[line].PushBack(handed)
	g.mu.Unlock()

	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-handed:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-handed:
		// Handed a slot as the wait ended: it is ours, take it.
		return true
	default:
	}
	g.line[line].Remove(e)
	return false
}

// leave gives a slot back: to the first request of the first line that
// has one, else to the free pool.
func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range g.line {
		if e := g.line[i].Front(); e != nil {
			g.line[i].Remove(e)
			close(e.Value.(chan struct{}))
			return
		}
	}
	g.free++
}

// queued is the number of requests waiting for a slot.
func (g *gate) queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.line[lineWoken].Len() + g.line[lineNew].Len()
}
