package waitroom_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/redisconn"
	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/testenv"
)

// courses spread over the cluster's three masters (slots of "1".."9").
var spread = []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}

// TestEveryOperationStaysInItsCourseSlot runs every operation of the
// waiting room for courses spread over a real cluster's masters: a script
// or command touching two slots fails with CROSSSLOT, and a key written to
// another course's slot is found by the scan at the end.
func TestEveryOperationStaysInItsCourseSlot(t *testing.T) {
	room, rdb, prefix, _ := newRoom(t, redisconn.Cluster)
	ctx := context.Background()
	feed := room.Feed(ctx)
	defer feed.Close()
	for _, c := range spread {
		require.NoError(t, room.Seed(ctx, c))
		require.NoError(t, feed.Watch(ctx, c))
		for s := int64(1); s <= 5; s++ {
			_, err := room.Join(ctx, c, s)
			require.NoError(t, err, "join course %d", c)
		}
		_, err := room.Status(ctx, c, 1)
		require.NoError(t, err)
		b, err := room.Take(ctx, c, 3, time.Minute)
		require.NoError(t, err)
		require.Len(t, b.Candidates, 3)
		ok, err := room.Leave(ctx, c, 2) // leaves while in flight: the seat is given back
		require.NoError(t, err)
		require.True(t, ok)
		left, err := room.Complete(ctx, b, map[int64]surge.Outcome{1: surge.OutcomeGranted, 2: surge.OutcomeGranted, 3: surge.OutcomeFull})
		require.NoError(t, err)
		require.Equal(t, []int64{2}, left)
		require.NoError(t, room.SeatsFreed(ctx, c))
		require.NoError(t, room.Release(ctx, b))
		_, err = room.DecidedThrough(ctx, c)
		require.NoError(t, err)
		was, tk, err := room.CancelEnrolled(ctx, c, 1)
		require.NoError(t, err)
		require.True(t, was)
		require.NoError(t, room.RestoreEnrolled(ctx, c, 1, tk))
		_, err = room.Cancelled(ctx, c, 1)
		require.NoError(t, err)
		seq, err := rdb.Get(ctx, room.Key(c, "seq")).Int64()
		require.NoError(t, err)
		healed, err := room.Heal(ctx, surge.Batch{Course: c, Token: b.Token}, seq) // the database's fence at the counter

		require.NoError(t, err)
		require.True(t, healed)
		require.NoError(t, room.Publish(ctx, surge.Progress{Course: c, Decided: 1, Through: 1}))
	}
	active, err := room.ActiveCourses(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, spread, active)
	n, err := room.Queued(ctx, spread)
	require.NoError(t, err)
	assert.Equal(t, int64(2*len(spread)), n, "students 4 and 5 of every course still queued")
	swept, err := room.Sweep(ctx, time.Minute, func(_ context.Context, cs []int64) ([]int64, error) {
		assert.ElementsMatch(t, spread, cs, "every course has a waiting list")
		return cs, nil
	})
	require.NoError(t, err)
	assert.Equal(t, len(spread), swept)
	got := map[int64]bool{}
	for len(got) < len(spread) {
		select {
		case p := <-feed.Progress():
			got[p.Course] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("progress of courses %v only", got)
		}
	}

	// Every key under the prefix is in its course's slot, and the courses
	// cover every master.
	var mu sync.Mutex
	nodes := map[int64]string{}
	shared := map[string]bool{}
	require.NoError(t, redisconn.EachPrimary(ctx, rdb, func(ctx context.Context, c *redis.Client) error {
		keys, err := c.Keys(ctx, prefix+"*").Result()
		if err != nil {
			return err
		}
		for _, k := range keys {
			rest, ok := strings.CutPrefix(k, prefix+"c:{")
			if !ok {
				mu.Lock()
				shared[strings.TrimPrefix(k, prefix)] = true
				mu.Unlock()
				continue
			}
			var course int64
			_, err := fmt.Sscanf(rest, "%d}", &course)
			if err != nil {
				return fmt.Errorf("key %s: %w", k, err)
			}
			slot, err := c.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				return err
			}
			want, err := c.ClusterKeySlot(ctx, fmt.Sprintf("{%d}", course)).Result()
			if err != nil {
				return err
			}
			assert.Equal(t, want, slot, "key %s", k)
			mu.Lock()
			if prev, ok := nodes[course]; ok && prev != c.Options().Addr {
				t.Errorf("course %d has keys on %s and %s", course, prev, c.Options().Addr)
			}
			nodes[course] = c.Options().Addr
			mu.Unlock()
		}
		return nil
	}))
	assert.Len(t, nodes, len(spread), "every course has keys")
	used := map[string]bool{}
	for _, a := range nodes {
		used[a] = true
	}
	assert.Len(t, used, 3, "the courses are spread over the three masters")
	assert.Equal(t, map[string]bool{"rooms": true, "sweep": true}, shared, "the only keys outside a course")
}

// TestCoursesFoundAfterTheRegistryIsLost: the node holding the list of
// courses loses its data while the others keep theirs (or an upgrade finds
// no list): the admitters still find every course with work.
func TestCoursesFoundAfterTheRegistryIsLost(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		room, rdb, _, _ := newRoom(t, mode)
		ctx := context.Background()
		for _, c := range spread {
			_, err := room.Join(ctx, c, 1)
			require.NoError(t, err)
		}
		require.NoError(t, rdb.Del(ctx, room.Key(0, "rooms")).Err(), "the list of courses is lost")
		active, err := room.ActiveCourses(ctx)
		require.NoError(t, err)
		slices.Sort(active)
		assert.Equal(t, spread, active, "rebuilt from the ticket counters")
		members, err := rdb.SMembers(ctx, room.Key(0, "rooms")).Result()
		require.NoError(t, err)
		assert.Len(t, members, len(spread)+1, "every course and the rebuilt mark")
	})
}
