package admitter

import (
	"sync"
	"time"
)

// pacer sizes batches from the database's measured commit latency with
// additive increase / multiplicative decrease, as TCP does with its window:
// while a full batch commits well under the target the batch grows by a
// step; a slow commit or an error halves it. The admitter therefore grants
// as fast as the database comfortably absorbs, and backs off at once when
// it struggles (saturated I/O, lock waits, failover).
type pacer struct {
	mu     sync.Mutex
	size   int
	min    int
	max    int
	step   int
	target time.Duration
}

func newPacer(maxSize int, target time.Duration) *pacer {
	minSize := min(10, maxSize)
	return &pacer{
		size:   max(minSize, maxSize/4),
		min:    minSize,
		max:    maxSize,
		step:   max(1, maxSize/8),
		target: target,
	}
}

// Size is the batch size to take next.
func (p *pacer) Size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size
}

// Observe feeds back one batch: how many students it offered, how long its
// transaction took and whether it failed.
func (p *pacer) Observe(offered int, took time.Duration, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case failed || took > p.target:
		p.size = max(p.min, p.size/2)
	case offered >= p.size && took < p.target/2:
		// Only a batch that used its whole size says anything about demand.
		p.size = min(p.max, p.size+p.step)
	}
}
