package sessions

import (
	"context"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bounds of what an instance remembers and how fresh its revocation
// subscription must be for that to be trusted.
const (
	// maxKnown bounds the remembered sessions (about 100 bytes each).
	maxKnown = 1 << 18
	// pingEvery is how often the subscription is pinged.
	pingEvery = 200 * time.Millisecond
	// maxSilence: remembered sessions are trusted only while the
	// subscription answered within this long. A revocation can be missed
	// only while the subscription's connection is silently broken, and then
	// for at most this long.
	maxSilence = 3 * pingEvery
)

// verified is what one instance remembers of the sessions it verified in
// Redis: hash -> student and expiry. gen changes whenever a revocation
// arrives or trust is lost, so that a session read from Redis before a
// revocation was processed is not remembered after it.
type verified struct {
	mu      sync.Mutex
	max     int
	entries map[[32]byte]known
	gen     uint64
	live    bool      // subscribed (and not failed since)
	alive   time.Time // last sign of life of the subscription
}

type known struct {
	student int64
	expires time.Time
}

func newVerified(max int) *verified {
	return &verified{max: max, entries: map[[32]byte]known{}}
}

// trustedLocked: the subscription is subscribed and answered recently.
func (v *verified) trustedLocked(now time.Time) bool {
	return v.live && now.Sub(v.alive) <= maxSilence
}

// lookup answers hit when the session is remembered and may be trusted;
// otherwise gen and trusted are what remember needs after reading Redis.
func (v *verified) lookup(ss session, now time.Time) (hit bool, gen uint64, trusted bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	trusted = v.trustedLocked(now)
	if trusted {
		if e, ok := v.entries[ss.hash]; ok && e.student == ss.student && now.Before(e.expires) {
			return true, v.gen, true
		}
	}
	return false, v.gen, trusted
}

// remember records a session read from Redis, unless a revocation arrived or
// trust was lost since the read started (gen moved on).
func (v *verified) remember(ss session, expires time.Time, gen uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if gen != v.gen || !v.live {
		return
	}
	if len(v.entries) >= v.max {
		now := time.Now()
		// Expired ones first; if none, an arbitrary eighth (map order).
		for h, e := range v.entries {
			if !now.Before(e.expires) {
				delete(v.entries, h)
			}
		}
		for h := range v.entries {
			if len(v.entries) < v.max-v.max/8 {
				break
			}
			delete(v.entries, h)
		}
	}
	v.entries[ss.hash] = known{student: ss.student, expires: expires}
}

// forget drops revoked sessions, by hex hash.
func (v *verified) forget(hashes ...string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gen++
	for _, h := range hashes {
		var b [32]byte
		if n, err := hex.Decode(b[:], []byte(h)); err == nil && n == len(b) {
			delete(v.entries, b)
		}
	}
}

// distrust forgets everything: the subscription failed, so revocations may
// have been missed.
func (v *verified) distrust() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gen++
	v.live = false
	clear(v.entries)
}

// subscribed starts trusting again, from nothing remembered.
func (v *verified) subscribed(now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gen++
	clear(v.entries)
	v.live, v.alive = true, now
}

func (v *verified) sawLife(now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.alive = now
}

// Watcher is an instance's revocation subscription.
type Watcher struct {
	cancel context.CancelFunc
	ps     *redis.PubSub
	done   sync.WaitGroup
}

// Watch subscribes to revocations and lets the store answer sessions it has
// verified without Redis while the subscription is alive. Close ends it.
func (s *Store) Watch(ctx context.Context) *Watcher {
	ctx, cancel := context.WithCancel(ctx)
	ps := s.rdb.Subscribe(ctx)
	w := &Watcher{cancel: cancel, ps: ps}
	w.done.Add(2)
	go func() {
		defer w.done.Done()
		defer s.known.distrust()
		defer ps.Close()
		s.receive(ctx, ps)
	}()
	go func() {
		defer w.done.Done()
		t := time.NewTicker(pingEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// A failed ping shows up as an error in receive.
				_ = ps.Ping(ctx)
			}
		}
	}()
	return w
}

// receive runs the subscription until ctx ends. Every error (connection
// lost, no answer within maxSilence) makes the store distrust what it
// remembers; go-redis reconnects and subscribes again on the next receive,
// and the subscription's confirmation restores trust from nothing.
func (s *Store) receive(ctx context.Context, ps *redis.PubSub) {
	for ctx.Err() == nil {
		if err := ps.Subscribe(ctx, s.channel()); err != nil {
			s.known.distrust()
			sleep(ctx, pingEvery)
			continue
		}
		for ctx.Err() == nil {
			msg, err := ps.ReceiveTimeout(ctx, maxSilence)
			if err != nil {
				s.known.distrust()
				break
			}
			now := time.Now()
			switch m := msg.(type) {
			case *redis.Subscription:
				if m.Kind == "subscribe" {
					s.known.subscribed(now)
				}
			case *redis.Message:
				s.known.forget(strings.Fields(m.Payload)...)
				s.known.sawLife(now)
			case *redis.Pong:
				s.known.sawLife(now)
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// Close ends the subscription; the store reads Redis on every check again.
func (w *Watcher) Close() error {
	w.cancel()
	_ = w.ps.Close() // interrupts a receive in progress
	w.done.Wait()
	return nil
}
