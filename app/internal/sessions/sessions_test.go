package sessions_test

import (
	"context"
	"os"
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
	assert.Len(t, id, 43, "base64 of 256 random bits")
	other, err := s.Create(ctx, 42)
	require.NoError(t, err)
	assert.NotEqual(t, id, other, "ids are random")

	got, err := s.Student(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, int64(42), got)

	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	for _, k := range keys {
		assert.NotContains(t, k, id, "Redis never holds a session id, only its hash")
		if v, err := rdb.Get(ctx, k).Result(); err == nil {
			assert.NotContains(t, v, id)
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
	for _, id := range []string{"", "short", strings.Repeat("a", 43), strings.Repeat("a", 44), strings.Repeat("x", 5000)} {
		_, err := s.Student(ctx, id)
		assert.ErrorIs(t, err, surge.ErrNoSession, "id %.10q", id)
	}
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
	_, err = s.Student(ctx, strings.Repeat("a", 43))
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
