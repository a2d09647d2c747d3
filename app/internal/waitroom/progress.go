package waitroom

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/surge-dev/surge/app/internal/surge"
)

// Progress is published on a per-course shard channel (SPUBLISH, Redis 7):
// in a cluster a shard channel lives on the node that owns its slot, and the
// channel carries the course's hash tag like every key of the course
// (scripts.go), so a course's progress is published on the shard that runs
// its scripts. On a standalone Redis it is an ordinary channel. https://redis.io/docs/latest/develop/interact/pubsub/#sharded-pubsub
//
// Delivery is at most once: a message published while a subscriber is
// reconnecting (Redis restarted) is lost. Waiters never depend on it alone:
// every wait ends at its deadline with the state read from Redis.

// progressChannel names the progress channel of a course.
func (r *Room) progressChannel(course int64) string {
	return r.key(course, keyProgress, "")
}

// Publish tells every instance's waiters that a batch of the course was
// decided: "<decided> <through>".
func (r *Room) Publish(ctx context.Context, p surge.Progress) error {
	msg := strconv.Itoa(p.Decided) + " " + id(p.Through)
	if err := r.rdb.SPublish(ctx, r.progressChannel(p.Course), msg).Err(); err != nil {
		return fmt.Errorf("publishing progress of course %d: %w", p.Course, err)
	}
	return nil
}

// Feed is one instance's subscription to the progress of the courses its
// students wait for. On a standalone Redis it is a single connection,
// whatever the number of waiters or courses. In a cluster a shard channel is
// served only by the node that owns its slot, and go-redis binds a
// subscription to the node of its first channel, so each watched course gets
// its own subscription there (which follows the slot to its new owner when
// it reconnects): one connection per watched course, not per waiter.
type Feed struct {
	r         *Room
	perCourse bool
	out       chan surge.Progress
	pumps     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	subs    []*redis.PubSub
	watched map[int64]bool
}

// Feed opens the instance's subscription; Close ends it. Messages arrive on
// Progress for the courses passed to Watch.
func (r *Room) Feed(ctx context.Context) *Feed {
	_, cluster := r.rdb.(*redis.ClusterClient)
	f := &Feed{r: r, perCourse: cluster, out: make(chan surge.Progress, 256), watched: map[int64]bool{}}
	if !cluster {
		f.start(r.rdb.SSubscribe(ctx))
	}
	return f
}

// start forwards a subscription's messages to Progress.
func (f *Feed) start(ps *redis.PubSub) {
	f.subs = append(f.subs, ps)
	f.pumps.Go(func() {
		// go-redis reconnects and subscribes again by itself after a failure.
		for m := range ps.Channel() {
			if p, ok := f.r.parseProgress(m.Channel, m.Payload); ok {
				f.out <- p
			}
		}
	})
}

// parseProgress reads a message of progressChannel.
func (r *Room) parseProgress(channel, payload string) (surge.Progress, bool) {
	rest, ok := strings.CutPrefix(channel, r.coursePrefix()+"{")
	if !ok {
		return surge.Progress{}, false
	}
	cs, ok := strings.CutSuffix(rest, "}:"+string(keyProgress))
	if !ok {
		return surge.Progress{}, false
	}
	course, err := strconv.ParseInt(cs, 10, 64)
	if err != nil {
		return surge.Progress{}, false
	}
	ds, ts, _ := strings.Cut(payload, " ")
	decided, err1 := strconv.Atoi(ds)
	through, err2 := strconv.ParseInt(ts, 10, 64)
	if err1 != nil || err2 != nil {
		return surge.Progress{}, false
	}
	return surge.Progress{Course: course, Decided: decided, Through: through}, true
}

// Watch subscribes to a course's progress (once per course; a failed
// subscription is tried again by the next call).
func (f *Feed) Watch(ctx context.Context, course int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.watched[course] || f.closed {
		return nil
	}
	ch := f.r.progressChannel(course)
	if f.perCourse {
		// Without channels the subscription has no node yet: the first
		// SSUBSCRIBE picks the node of the channel's slot.
		ps := f.r.rdb.SSubscribe(ctx)
		if err := ps.SSubscribe(ctx, ch); err != nil {
			_ = ps.Close()
			return fmt.Errorf("subscribing to progress of course %d: %w", course, err)
		}
		f.start(ps)
	} else if err := f.subs[0].SSubscribe(ctx, ch); err != nil {
		return fmt.Errorf("subscribing to progress of course %d: %w", course, err)
	}
	f.watched[course] = true
	return nil
}

// Progress delivers the published progress of watched courses; it is closed
// after Close.
func (f *Feed) Progress() <-chan surge.Progress { return f.out }

// Close ends the subscriptions.
func (f *Feed) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	var err error
	for _, ps := range f.subs {
		err = errors.Join(err, ps.Close())
	}
	f.mu.Unlock()
	f.pumps.Wait()
	close(f.out)
	return err
}
