package waitroom_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/redisconn"
	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/testenv"
	"github.com/surge-dev/surge/app/internal/waitroom"
)

// fill joins students from..to (inclusive) and returns their tickets.
func fill(t *testing.T, room *waitroom.Room, course, from, to int64) map[int64]int64 {
	t.Helper()
	out := map[int64]int64{}
	for s := from; s <= to; s++ {
		st, err := room.Join(context.Background(), course, s)
		require.NoError(t, err)
		out[s] = st.Ticket
	}
	return out
}

// fullAll runs batches answering every student full until nothing is left to
// take, as an admitter does on a course without seats.
func fullAll(t *testing.T, room *waitroom.Room, course int64, size int) {
	t.Helper()
	ctx := context.Background()
	for {
		b, err := room.Take(ctx, course, size, time.Minute)
		require.NoError(t, err)
		if b.Moved > 0 {
			continue
		}
		if len(b.Candidates) == 0 {
			if b.Token != 0 {
				_, err := room.Complete(ctx, b, nil)
				require.NoError(t, err)
			}
			return
		}
		out := map[int64]surge.Outcome{}
		for _, e := range b.Candidates {
			out[e.StudentID] = surge.OutcomeFull
		}
		_, err = room.Complete(ctx, b, out)
		require.NoError(t, err)
	}
}

// TestFreedBatchNeverSkipsWaitingList: when a seat may have been freed and the
// waiting list is longer than one batch, the batch holds waiting-list
// students only; queued students (higher tickets) are offered only in a batch
// that also offers every remaining waiting-list student, so the grant (which
// follows the batch order) can never seat a queued student ahead of a lower
// full ticket.
func TestFreedBatchNeverSkipsWaitingList(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		room, _, _, _ := newRoom(t, mode)
		ctx := context.Background()
		const course, size = 3, 2
		fill(t, room, course, 1, 5)
		fullAll(t, room, course, 10) // 1..5 full
		fill(t, room, course, 6, 8)  // 6..8 queued
		require.NoError(t, room.SeatsFreed(ctx, course))

		var order []int64
		for {
			b, err := room.Take(ctx, course, size, time.Minute)
			require.NoError(t, err)
			if len(b.Candidates) == 0 {
				break
			}
			out := map[int64]surge.Outcome{}
			for _, e := range b.Candidates {
				order = append(order, e.StudentID)
				out[e.StudentID] = surge.OutcomeGranted // plenty of seats (capacity raised)
			}
			_, err = room.Complete(ctx, b, out)
			require.NoError(t, err)
			for _, e := range b.Candidates {
				if e.StudentID >= 6 {
					st, err := room.Status(ctx, course, 5)
					require.NoError(t, err)
					assert.Equal(t, surge.StateEnrolled, st.State, "queued student %d offered while ticket of 5 still full", e.StudentID)
				}
			}
		}
		assert.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7, 8}, order, "every seat offered in ticket order")
	})
}

// TestMovedToWaitingListOldestFirst: on a full course the queued students move
// to the waiting list lowest ticket first, and a freed seat is offered in
// ticket order afterwards.
func TestMovedToWaitingListOldestFirst(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		room, _, _, _ := newRoom(t, mode)
		ctx := context.Background()
		const course = 4
		fill(t, room, course, 1, 1)
		// 2..4 join while 1's batch is in flight (so they queue, as a join to a
		// course known full would not); the batch finds the course full: 1 waits.
		b, err := room.Take(ctx, course, 10, time.Minute)
		require.NoError(t, err)
		tk := fill(t, room, course, 2, 4)
		_, err = room.Complete(ctx, b, map[int64]surge.Outcome{1: surge.OutcomeFull})
		require.NoError(t, err)
		b, err = room.Take(ctx, course, 1, time.Minute)
		require.NoError(t, err)
		require.Equal(t, 1, b.Moved, "one queued student moved to the waiting list")
		assert.Equal(t, tk[2], b.MovedThrough, "the highest ticket moved: the hub wakes only the waiters up to it")
		for s, want := range map[int64]surge.State{2: surge.StateFull, 3: surge.StateQueued, 4: surge.StateQueued} {
			st, err := room.Status(ctx, course, s)
			require.NoError(t, err)
			assert.Equal(t, want, st.State, "student %d (ticket %d): the lowest queued ticket moves first", s, tk[s])
		}
		require.NoError(t, room.SeatsFreed(ctx, course))
		b, err = room.Take(ctx, course, 10, time.Minute)
		require.NoError(t, err)
		var got []int64
		for _, e := range b.Candidates {
			got = append(got, e.StudentID)
		}
		assert.Equal(t, []int64{1, 2, 3, 4}, got, "offered in ticket order after a seat was freed")
	})
}

// TestTicketsNeverRepeatAfterCounterRollback: Redis comes back with an older
// ticket counter (a failover with replication lag, a snapshot restore): the
// key still exists, so no epoch is bumped, yet no ticket may repeat.
func TestTicketsNeverRepeatAfterCounterRollback(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		room, rdb, _, _ := newRoom(t, mode)
		ctx := context.Background()
		const course = 5
		before := fill(t, room, course, 1, 10)
		seq := room.Key(course, "seq")
		cur, err := rdb.Get(ctx, seq).Int64()
		require.NoError(t, err)
		require.NoError(t, rdb.Set(ctx, seq, cur-10, 0).Err(), "roll the counter back by 10 increments")
		after := fill(t, room, course, 11, 20)
		seen := map[int64]int64{}
		var maxBefore int64
		for s, tk := range before {
			seen[tk] = s
			maxBefore = max(maxBefore, tk)
		}
		for s := int64(11); s <= 20; s++ {
			tk := after[s]
			other, dup := seen[tk]
			assert.False(t, dup, "ticket %d of student %d repeats the ticket of %d", tk, s, other)
			assert.Greater(t, tk, maxBefore, "ticket of %d above every earlier ticket", s)
			seen[tk] = s
		}
		b, err := room.Take(ctx, course, 100, time.Minute)
		require.NoError(t, err)
		assert.Greater(t, b.Token, after[20], "fencing token above every ticket too")
	})
}

// TestScriptsSurviveDroppedReplies: the client retries a command after an EOF
// or a read timeout even though Redis already ran it. A proxy drops the reply
// of one script call after Redis ran it; the retried take, leave and
// complete must answer as the first run did.
func TestScriptsSurviveDroppedReplies(t *testing.T) {
	// Standalone only: the proxy stands in front of one server.
	room, rdb, prefix, ep := newRoom(t, redisconn.Standalone)
	proxy := testenv.NewProxy(t, env.Redis.Addr())
	viaProxy := waitroom.New(testenv.RedisClientAt(t, proxy.Addr()), prefix, ep)
	ctx := context.Background()
	// Load every script once (EVALSHA needs them cached in Redis).
	fill(t, room, 99, 1, 2)
	b, err := room.Take(ctx, 99, 1, time.Minute)
	require.NoError(t, err)
	_, err = room.Leave(ctx, 99, 2)
	require.NoError(t, err)
	_, err = room.Complete(ctx, b, map[int64]surge.Outcome{1: surge.OutcomeGranted})
	require.NoError(t, err)

	const course = 8
	fill(t, room, course, 1, 3)
	proxy.DropReplyOnce(waitroom.ScriptHashes["take"])
	b, err = viaProxy.Take(ctx, course, 2, time.Minute)
	require.Equal(t, 1, proxy.Drops(), "the take's reply was dropped")
	require.NoError(t, err, "a retried take returns the batch it took")
	require.Len(t, b.Candidates, 2)
	assert.Equal(t, []surge.Candidate{{StudentID: 1, Ticket: b.Candidates[0].Ticket}, {StudentID: 2, Ticket: b.Candidates[1].Ticket}}, b.Candidates)
	lease, err := rdb.Get(ctx, room.Key(course, "lease")).Int64()
	require.NoError(t, err)
	assert.Equal(t, lease, b.Token, "the batch carries the lease's token")

	proxy.DropReplyOnce(waitroom.ScriptHashes["leave"])
	ok, err := viaProxy.Leave(ctx, course, 1)
	require.Equal(t, 2, proxy.Drops(), "the leave's reply was dropped")
	require.NoError(t, err)
	assert.True(t, ok, "a retried leave still reports that the student left")

	// A read timeout: the reply comes after the client gave up and retried.
	_, err = room.Join(ctx, course, 9)
	require.NoError(t, err)
	proxy.DelayReplyOnce(waitroom.ScriptHashes["leave"], 1500*time.Millisecond)
	ok, err = viaProxy.Leave(ctx, course, 9)
	require.Equal(t, 3, proxy.Drops(), "the leave's reply was delayed past the read timeout")
	require.NoError(t, err)
	assert.True(t, ok, "a leave retried after a read timeout still reports that the student left")

	proxy.DropReplyOnce(waitroom.ScriptHashes["complete"])
	left, err := viaProxy.Complete(ctx, b, map[int64]surge.Outcome{1: surge.OutcomeGranted, 2: surge.OutcomeGranted})
	require.Equal(t, 4, proxy.Drops(), "the completion's reply was dropped")
	require.NoError(t, err)
	assert.Equal(t, []int64{1}, left, "a retried completion still reports the seat to give back")
	st, err := room.Status(ctx, course, 2)
	require.NoError(t, err)
	assert.Equal(t, surge.StateEnrolled, st.State)
}
