package sessions_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/sessions"
	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

func TestCreateReadDelete(t *testing.T) {
	rdb, prefix := env.RedisClient(t)
	s := sessions.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	id, err := s.Create(ctx, 42)
	require.NoError(t, err)
	student, secret, ok := strings.Cut(id, ".")
	require.True(t, ok, "cookie is <student>.<id>: %q", id)
	assert.Equal(t, "42", student)
	assert.Len(t, secret, 43, "base64 of 256 random bits")
	other, err := s.Create(ctx, 42)
	require.NoError(t, err)
	assert.NotEqual(t, id, other, "ids are random")

	got, err := s.Student(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, int64(42), got)

	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	for _, k := range keys {
		assert.NotContains(t, k, secret, "Redis never holds a session id, only its hash")
		assert.Contains(t, k, "{u42}", "every key of a student shares one hash tag")
		if v, err := rdb.Get(ctx, k).Result(); err == nil {
			assert.NotContains(t, v, secret)
		}
		if ms, err := rdb.SMembers(ctx, k).Result(); err == nil {
			for _, m := range ms {
				assert.NotContains(t, m, secret)
			}
		}
	}
	ttl, err := rdb.TTL(ctx, keys[0]).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, 59*time.Minute, "sessions and the index expire")

	require.NoError(t, s.Delete(ctx, id))
	_, err = s.Student(ctx, id)
	assert.ErrorIs(t, err, surge.ErrNoSession, "deleted")
	require.NoError(t, s.Delete(ctx, id), "deleting twice is fine")
	got, err = s.Student(ctx, other)
	require.NoError(t, err, "the other session lives on")
	assert.Equal(t, int64(42), got)
}

func TestUnknownAndMalformedIDs(t *testing.T) {
	rdb, prefix := env.RedisClient(t)
	s := sessions.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	real, err := s.Create(ctx, 7)
	require.NoError(t, err)
	_, secret, _ := strings.Cut(real, ".")
	a43 := strings.Repeat("a", 43)
	for _, id := range []string{"", "short", a43, "7." + strings.Repeat("a", 44), strings.Repeat("x", 5000),
		"7." + a43, "0." + a43, "-7." + a43, "07." + a43, "+7." + a43, "99999999999999999999." + a43,
		"7." + strings.Repeat("!", 43), "7.." + a43[1:],
		secret,                   // the id without its student
		"8." + secret,            // another student's cookie name with this id
		real + "x",               // one character more
		"7." + secret[:42] + "=", // padding is never issued
	} {
		_, err := s.Student(ctx, id)
		assert.ErrorIs(t, err, surge.ErrNoSession, "id %.12q", id)
		assert.NoError(t, s.Delete(ctx, id), "deleting a cookie never issued is a no-op")
	}
	got, err := s.Student(ctx, real)
	require.NoError(t, err, "none of those touched the real session")
	assert.Equal(t, int64(7), got)
}

func TestExpiry(t *testing.T) {
	rdb, prefix := env.RedisClient(t)
	s := sessions.New(rdb, prefix, 200*time.Millisecond)
	ctx := context.Background()
	id, err := s.Create(ctx, 7)
	require.NoError(t, err)
	assert.Equal(t, 200*time.Millisecond, s.TTL())
	time.Sleep(400 * time.Millisecond)
	_, err = s.Student(ctx, id)
	assert.ErrorIs(t, err, surge.ErrNoSession, "expired")
}

func TestRevokeAll(t *testing.T) {
	rdb, prefix := env.RedisClient(t)
	s := sessions.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	var mine []string
	for range 3 {
		id, err := s.Create(ctx, 1)
		require.NoError(t, err)
		mine = append(mine, id)
	}
	theirs, err := s.Create(ctx, 2)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, mine[0]), "one signed out already")

	n, err := s.RevokeAll(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the two live sessions")
	for _, id := range mine {
		_, err := s.Student(ctx, id)
		assert.ErrorIs(t, err, surge.ErrNoSession)
	}
	got, err := s.Student(ctx, theirs)
	require.NoError(t, err, "another student's session is untouched")
	assert.Equal(t, int64(2), got)
	n, err = s.RevokeAll(ctx, 1)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left")
	id, err := s.Create(ctx, 1)
	require.NoError(t, err, "signing in again works")
	_, err = s.Student(ctx, id)
	require.NoError(t, err)
}

func TestRedisDown(t *testing.T) {
	proxy := testenv.NewProxy(t, env.Redis.Addr())
	s := sessions.New(testenv.RedisClientAt(t, proxy.Addr()), "down:", time.Hour)
	proxy.SetDown(true)
	ctx := context.Background()
	_, err := s.Create(ctx, 1)
	assert.Error(t, err)
	_, err = s.Student(ctx, "1."+strings.Repeat("A", 43))
	assert.Error(t, err)
	assert.NotErrorIs(t, err, surge.ErrNoSession, "an outage is not a missing session (503, not 401)")
}

func TestFailureCounters(t *testing.T) {
	rdb, prefix := env.RedisClient(t)
	s := sessions.New(rdb, prefix, time.Hour)
	ctx := context.Background()
	for range 2 {
		require.NoError(t, s.AddFailure(ctx, map[string]time.Duration{"a:x": 300 * time.Millisecond, "c:y": time.Minute}))
	}
	counts, left, err := s.Failures(ctx, "a:x", "c:y", "c:z")
	require.NoError(t, err)
	assert.Equal(t, []int64{2, 2, 0}, counts)
	assert.LessOrEqual(t, left[0], 300*time.Millisecond, "the window started with the first failure")
	assert.Greater(t, left[1], 50*time.Second)
	time.Sleep(400 * time.Millisecond)
	counts, _, err = s.Failures(ctx, "a:x", "c:y")
	require.NoError(t, err)
	assert.Equal(t, []int64{0, 2}, counts, "a window ends")
}

// instance is one app instance's session store on its own Redis client,
// counting that client's round trips, with its revocation subscription.
func instance(t *testing.T, addr, prefix string) (*sessions.Store, *testenv.RoundTrips) {
	t.Helper()
	rdb := testenv.RedisClientAt(t, addr)
	rt := &testenv.RoundTrips{}
	rdb.AddHook(rt)
	s := sessions.New(rdb, prefix, time.Hour)
	w := s.Watch(context.Background())
	t.Cleanup(func() { _ = w.Close() })
	return s, rt
}

// eventually waits for the revocation subscription to confirm (or cond).
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, time.Millisecond, msg)
}

func TestVerifiedSessionsCostNoRoundTrip(t *testing.T) {
	_, prefix := env.RedisClient(t)
	a, _ := instance(t, env.Redis.Addr(), prefix)
	b, rt := instance(t, env.Redis.Addr(), prefix)
	ctx := context.Background()
	id, err := a.Create(ctx, 5)
	require.NoError(t, err)
	// The first check reads Redis (one pipelined round trip) and, once the
	// subscription is confirmed, is remembered.
	eventually(t, func() bool {
		before := rt.N()
		got, err := b.Student(ctx, id)
		return err == nil && got == 5 && rt.N() == before
	}, "a verified session is answered without Redis")
	before := rt.N()
	for range 100 {
		got, err := b.Student(ctx, id)
		require.NoError(t, err)
		require.Equal(t, int64(5), got)
	}
	assert.Equal(t, before, rt.N(), "no round trip for a remembered session")
	_, err = b.Student(ctx, "6."+strings.SplitN(id, ".", 2)[1])
	assert.ErrorIs(t, err, surge.ErrNoSession, "remembered per student and id")
}

func TestRevocationReachesEveryInstanceAtOnce(t *testing.T) {
	_, prefix := env.RedisClient(t)
	a, _ := instance(t, env.Redis.Addr(), prefix)
	b, rt := instance(t, env.Redis.Addr(), prefix)
	ctx := context.Background()
	warm := func(id string) {
		t.Helper()
		eventually(t, func() bool {
			before := rt.N()
			_, err := b.Student(ctx, id)
			return err == nil && rt.N() == before
		}, "b remembers the session")
	}
	gone := func(id string) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			if _, err := b.Student(ctx, id); errors.Is(err, surge.ErrNoSession) {
				return time.Since(start)
			}
			require.Less(t, time.Since(start), time.Second, "b still accepts a revoked session")
		}
	}
	var lags []time.Duration
	for i := range 50 {
		id, err := a.Create(ctx, 9)
		require.NoError(t, err)
		warm(id)
		if i%2 == 0 {
			require.NoError(t, a.Delete(ctx, id), "sign out on another instance")
		} else {
			n, err := a.RevokeAll(ctx, 9)
			require.NoError(t, err)
			require.Equal(t, 1, n)
		}
		lags = append(lags, gone(id))
	}
	slices.Sort(lags)
	// On receipt of the revocation message: well under a millisecond after the
	// revoking call returns on an idle machine. The design's bound is the
	// subscription's silence limit (a broken subscription stops the
	// instance from answering from memory), which a loaded machine needs.
	t.Logf("revocation seen by the other instance after the revoking call returned: p50 %v, max %v", lags[len(lags)/2], lags[len(lags)-1])
	assert.Less(t, lags[len(lags)/2], 20*time.Millisecond, "median")
	assert.Less(t, lags[len(lags)-1], sessions.MaxSilence, "every one")
}

func TestBrokenSubscriptionFallsBackToRedis(t *testing.T) {
	_, prefix := env.RedisClient(t)
	a, _ := instance(t, env.Redis.Addr(), prefix)
	proxy := testenv.NewProxy(t, env.Redis.Addr())
	b, rt := instance(t, proxy.Addr(), prefix)
	ctx := context.Background()
	id, err := a.Create(ctx, 11)
	require.NoError(t, err)
	eventually(t, func() bool {
		before := rt.N()
		_, err := b.Student(ctx, id)
		return err == nil && rt.N() == before
	}, "b remembers the session")

	// b is cut off (its subscription with it) and misses the revocation.
	proxy.SetDown(true)
	require.NoError(t, a.Delete(ctx, id))
	require.Eventually(t, func() bool {
		_, err := b.Student(ctx, id)
		return err != nil
	}, 5*time.Second, 10*time.Millisecond, "without a live subscription b stops answering from memory")
	_, err = b.Student(ctx, id)
	assert.NotErrorIs(t, err, surge.ErrNoSession, "it asks Redis, which is unreachable: an outage (503)")

	proxy.SetDown(false)
	require.Eventually(t, func() bool {
		_, err := b.Student(ctx, id)
		return errors.Is(err, surge.ErrNoSession)
	}, 5*time.Second, 10*time.Millisecond, "back: the revoked session is refused")
	other, err := a.Create(ctx, 11)
	require.NoError(t, err)
	eventually(t, func() bool {
		before := rt.N()
		_, err := b.Student(ctx, other)
		return err == nil && rt.N() == before
	}, "trust comes back with the subscription")
}
