package cache_test

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/cache"
	"github.com/surge-dev/surge/app/internal/redisconn"
	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

type countingSource struct {
	loads atomic.Int64
	delay time.Duration
	fail  atomic.Bool
}

func (s *countingSource) Courses(ctx context.Context) ([]surge.Course, error) {
	s.loads.Add(1)
	time.Sleep(s.delay)
	if s.fail.Load() {
		return nil, context.DeadlineExceeded
	}
	return []surge.Course{{ID: 1, Code: "A", Capacity: int(s.loads.Load())}}, nil
}

func (s *countingSource) Course(ctx context.Context, id int64) (surge.Course, error) {
	s.loads.Add(1)
	time.Sleep(s.delay)
	if s.fail.Load() {
		return surge.Course{}, context.DeadlineExceeded
	}
	if id != 1 {
		return surge.Course{}, surge.ErrCourseNotFound
	}
	return surge.Course{ID: 1, Code: "A", Capacity: int(s.loads.Load())}, nil
}

// TestSingleRefillPerExpiry: many concurrent readers on three cache
// instances (three app servers) cause one load per expiry, not one per reader.
func TestSingleRefillPerExpiry(t *testing.T) {
	rdb, prefix := env.RedisClient(t)
	src := &countingSource{delay: 20 * time.Millisecond}
	var cs []*cache.Courses
	for range 3 {
		cs = append(cs, cache.New(src, rdb, prefix, cache.Options{Fresh: 300 * time.Millisecond, LoadTimeout: 200 * time.Millisecond}))
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() {
			for time.Since(start) < time.Second {
				_, err := cs[i%3].Course(context.Background(), 1)
				assert.NoError(t, err)
				_, err = cs[i%3].Courses(context.Background())
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	// Two keys, 1 s / 300 ms fresh = about 4 expiries each.
	assert.LessOrEqual(t, src.loads.Load(), int64(2*6), "loads for 300 concurrent readers over 1s")
	t.Logf("loads: %d", src.loads.Load())
}

func TestStalenessBound(t *testing.T) {
	testenv.EachMode(t, testStalenessBound)
}

func testStalenessBound(t *testing.T, mode redisconn.Mode) {
	rdb, prefix := env.RedisClientMode(t, mode)
	src := &countingSource{}
	c := cache.New(src, rdb, prefix, cache.Options{})
	ctx := context.Background()
	first, err := c.Course(ctx, 1)
	require.NoError(t, err)
	time.Sleep(2100 * time.Millisecond)
	next, err := c.Course(ctx, 1)
	require.NoError(t, err)
	assert.NotEqual(t, first.Capacity, next.Capacity, "after 2 s the value was reloaded")

	_, err = c.Course(ctx, 7)
	assert.ErrorIs(t, err, surge.ErrCourseNotFound, "unknown course")
	before := src.loads.Load()
	_, err = c.Course(ctx, 7)
	assert.ErrorIs(t, err, surge.ErrCourseNotFound, "unknown course, cached")
	assert.Equal(t, before, src.loads.Load(), "not found is cached too")

	require.NoError(t, c.Invalidate(ctx, 1))
	again, err := c.Course(ctx, 1)
	require.NoError(t, err)
	assert.NotEqual(t, next.Capacity, again.Capacity, "invalidate forces a reload")
}

// TestLastGoodCopyDuringOutage: while the store fails, the last good copy is
// served (once per freshness period the store is tried again), as long as
// it is at most MaxStale old; then the error surfaces.
func TestLastGoodCopyDuringOutage(t *testing.T) {
	rdb, prefix := env.RedisClient(t)
	src := &countingSource{}
	c := cache.New(src, rdb, prefix, cache.Options{Fresh: 100 * time.Millisecond, LoadTimeout: 50 * time.Millisecond, Local: time.Millisecond, MaxStale: time.Second})
	ctx := context.Background()
	good, err := c.Course(ctx, 1)
	require.NoError(t, err)
	src.fail.Store(true)
	start := time.Now()
	before := src.loads.Load()
	for time.Since(start) < 600*time.Millisecond {
		got, err := c.Course(ctx, 1)
		require.NoError(t, err, "served from the last good copy during the outage")
		assert.Equal(t, good, got)
		time.Sleep(5 * time.Millisecond)
	}
	assert.LessOrEqual(t, src.loads.Load()-before, int64(10), "the store is tried about once per freshness period")
	time.Sleep(time.Second)
	_, err = c.Course(ctx, 1)
	assert.Error(t, err, "a copy older than MaxStale is not served")
	src.fail.Store(false)
	_, err = c.Course(ctx, 1)
	require.NoError(t, err, "back to normal when the store answers")
}

// TestPrimeAndInvalidate: an admin write primes the course and drops the
// list, an invalidation drops both; on a cluster too, where the course's
// entry and the list live in different slots.
func TestPrimeAndInvalidate(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		rdb, prefix := env.RedisClientMode(t, mode)
		src := &countingSource{}
		c := cache.New(src, rdb, prefix, cache.Options{Local: time.Millisecond})
		ctx := context.Background()
		_, err := c.Courses(ctx)
		require.NoError(t, err)
		_, err = c.Course(ctx, 1)
		require.NoError(t, err)
		loads := src.loads.Load()

		require.NoError(t, c.Prime(ctx, surge.Course{ID: 1, Code: "A", Capacity: 99}))
		time.Sleep(2 * time.Millisecond) // past the local copy
		got, err := c.Course(ctx, 1)
		require.NoError(t, err)
		assert.Equal(t, 99, got.Capacity, "the primed course is served")
		assert.Equal(t, loads, src.loads.Load(), "without a load")
		_, err = c.Courses(ctx)
		require.NoError(t, err)
		assert.Equal(t, loads+1, src.loads.Load(), "the list was dropped and reloaded")

		require.NoError(t, c.Invalidate(ctx, 1))
		got, err = c.Course(ctx, 1)
		require.NoError(t, err)
		assert.NotEqual(t, 99, got.Capacity, "invalidated: reloaded from the store")
		_, err = c.Courses(ctx)
		require.NoError(t, err)
		assert.Equal(t, loads+3, src.loads.Load(), "both entries reloaded")
	})
}
