package waitroom

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/surge-dev/surge/app/internal/surge"
)

// Progress is published on a per-course shard channel (SPUBLISH, Redis 7):
// in a cluster a shard channel lives on the node that owns its slot, and the
// braces make the course id the hash tag, so all of a course's progress goes
// to one shard (the waiting room's keys do not carry that tag yet). On a
// standalone Redis it is an ordinary channel. https://redis.io/docs/latest/develop/interact/pubsub/#sharded-pubsub
//
// Delivery is at most once: a message published while a subscriber is
// reconnecting (Redis restarted) is lost. Waiters never depend on it alone:
// every wait ends at its deadline with the state read from Redis.

// progressChannel names the progress channel of a course.
func (r *Room) progressChannel(course int64) string {
	return r.coursePrefix() + "{" + id(course) + "}:progress"
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
// students wait for: a single Redis connection, whatever the number of
// waiters or courses.
type Feed struct {
	r    *Room
	ps   *redis.PubSub
	out  chan surge.Progress
	done chan struct{}

	mu      sync.Mutex
	watched map[int64]bool
}

// Feed opens the instance's subscription; Close ends it. Messages arrive on
// Progress for the courses passed to Watch.
func (r *Room) Feed(ctx context.Context) *Feed {
	f := &Feed{r: r, ps: r.rdb.SSubscribe(ctx), out: make(chan surge.Progress, 256),
		done: make(chan struct{}), watched: map[int64]bool{}}
	go f.run()
	return f
}

func (f *Feed) run() {
	defer close(f.out)
	defer close(f.done)
	// go-redis reconnects and subscribes again by itself after a failure.
	for m := range f.ps.Channel() {
		p, ok := f.r.parseProgress(m.Channel, m.Payload)
		if !ok {
			continue
		}
		f.out <- p
	}
}

// parseProgress reads a message of progressChannel.
func (r *Room) parseProgress(channel, payload string) (surge.Progress, bool) {
	rest, ok := strings.CutPrefix(channel, r.coursePrefix()+"{")
	if !ok {
		return surge.Progress{}, false
	}
	cs, ok := strings.CutSuffix(rest, "}:progress")
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
	if f.watched[course] {
		return nil
	}
	if err := f.ps.SSubscribe(ctx, f.r.progressChannel(course)); err != nil {
		return fmt.Errorf("subscribing to progress of course %d: %w", course, err)
	}
	f.watched[course] = true
	return nil
}

// Progress delivers the published progress of watched courses; it is closed
// after Close.
func (f *Feed) Progress() <-chan surge.Progress { return f.out }

// Close ends the subscription.
func (f *Feed) Close() error {
	err := f.ps.Close()
	<-f.done
	return err
}
