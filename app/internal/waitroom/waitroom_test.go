package waitroom_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/redisconn"
	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/testenv"
	"github.com/surge-dev/surge/app/internal/waitroom"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

type epochs struct{ n atomic.Int64 }

func (e *epochs) NextTicketEpoch(context.Context, int64) (int64, error) { return e.n.Add(1), nil }

// newRoom returns a room under a fresh prefix on the standalone server or
// the package's cluster.
func newRoom(t *testing.T, mode redisconn.Mode) (*waitroom.Room, redis.UniversalClient, string, *epochs) {
	rdb, prefix := env.RedisClientMode(t, mode)
	ep := &epochs{}
	return waitroom.New(rdb, prefix, ep), rdb, prefix, ep
}

// wipe drops every key of the room, as a Redis restart without persistence does.
func wipe(t *testing.T, rdb redis.UniversalClient, prefix string) {
	testenv.DeleteKeys(t, rdb, prefix)
}

// TestTicketsIncreaseAcrossDataLoss: one epoch bump per loss even for a burst
// of concurrent joins, and every ticket after the loss is above every ticket
// before it.
func TestTicketsIncreaseAcrossDataLoss(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		room, rdb, prefix, ep := newRoom(t, mode)
		ctx := context.Background()
		var maxBefore int64
		for round := range 3 {
			var mu sync.Mutex
			var tickets []int64
			var wg sync.WaitGroup
			for s := range 200 {
				wg.Go(func() {
					st, err := room.Join(ctx, 1, int64(s+1))
					if assert.NoError(t, err) {
						mu.Lock()
						tickets = append(tickets, st.Ticket)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			assert.Equal(t, int64(round+1), ep.n.Load(), "round %d: one epoch bump per loss, not one per join", round)
			seen := map[int64]bool{}
			var maxRound int64
			for _, tk := range tickets {
				assert.False(t, seen[tk], "ticket %d issued twice", tk)
				seen[tk] = true
				assert.Greater(t, tk, maxBefore, "round %d: ticket above every earlier one", round)
				assert.Less(t, tk, int64(1)<<53, "ticket fits a JSON number")
				maxRound = max(maxRound, tk)
			}
			maxBefore = maxRound
			wipe(t, rdb, prefix)
		}
	})
}

func TestJoinStatusLeave(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		room, _, _, _ := newRoom(t, mode)
		ctx := context.Background()
		a, err := room.Join(ctx, 1, 10)
		require.NoError(t, err)
		b, err := room.Join(ctx, 1, 20)
		require.NoError(t, err)
		assert.Equal(t, surge.Status{State: surge.StateQueued, Ticket: a.Ticket, Position: 1}, a)
		assert.Equal(t, int64(2), b.Position, "second in line")
		again, err := room.Join(ctx, 1, 20)
		require.NoError(t, err)
		assert.Equal(t, b, again, "idempotent join")

		batch, err := room.Take(ctx, 1, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, batch.Candidates, 1)
		assert.Equal(t, surge.Candidate{StudentID: 10, Ticket: a.Ticket}, batch.Candidates[0], "lowest ticket taken")
		st, err := room.Status(ctx, 1, 10)
		require.NoError(t, err)
		assert.Equal(t, surge.Status{State: surge.StateQueued, Ticket: a.Ticket, Position: 1}, st, "in flight shows as queued")
		st, err = room.Status(ctx, 1, 20)
		require.NoError(t, err)
		assert.Equal(t, int64(2), st.Position, "in-flight students are ahead")
		_, err = room.Take(ctx, 1, 1, time.Minute)
		assert.ErrorIs(t, err, surge.ErrLeaseBusy, "one admitter per course")

		// Student 10 leaves while in flight, then gets the seat: it must be given back.
		ok, err := room.Leave(ctx, 1, 10)
		require.NoError(t, err)
		assert.True(t, ok)
		left, err := room.Complete(ctx, batch, map[int64]surge.Outcome{10: surge.OutcomeGranted})
		require.NoError(t, err)
		assert.Equal(t, []int64{10}, left, "seat of a student who left is reported")
		ok, err = room.Leave(ctx, 1, 10)
		require.NoError(t, err)
		assert.False(t, ok, "leave twice")
		none, err := room.Status(ctx, 1, 99)
		require.NoError(t, err)
		assert.Equal(t, surge.Status{State: surge.StateNone}, none, "never joined")
	})
}

// TestExpiredLeaseReturnsOriginalTickets and a stale completion after it.
func TestExpiredLeaseReturnsOriginalTickets(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		room, _, _, _ := newRoom(t, mode)
		ctx := context.Background()
		var tickets []int64
		for s := range 4 {
			st, err := room.Join(ctx, 1, int64(s+1))
			require.NoError(t, err)
			tickets = append(tickets, st.Ticket)
		}
		dead, err := room.Take(ctx, 1, 2, 100*time.Millisecond)
		require.NoError(t, err)
		time.Sleep(150 * time.Millisecond)
		next, err := room.Take(ctx, 1, 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, next.Candidates, 4, "expired batch back in the queue")
		for i, e := range next.Candidates {
			assert.Equal(t, tickets[i], e.Ticket, "original ticket of %d", e.StudentID)
		}
		assert.Greater(t, next.Token, dead.Token, "fencing tokens increase")
		// The dead admitter wakes up: its "full" verdicts are ignored, its grants
		// (committed in PostgreSQL) are recorded.
		left, err := room.Complete(ctx, dead, map[int64]surge.Outcome{1: surge.OutcomeGranted, 2: surge.OutcomeFull})
		require.NoError(t, err)
		assert.Empty(t, left)
		st, _ := room.Status(ctx, 1, 1)
		assert.Equal(t, surge.StateEnrolled, st.State, "grant recorded")
		st, _ = room.Status(ctx, 1, 2)
		assert.Equal(t, surge.StateQueued, st.State, "stale full ignored")
		_, err = room.Complete(ctx, next, map[int64]surge.Outcome{1: surge.OutcomeAlreadyEnrolled, 2: surge.OutcomeGranted, 3: surge.OutcomeFull, 4: surge.OutcomeFull})
		require.NoError(t, err)
		for s, want := range map[int64]surge.State{1: surge.StateEnrolled, 2: surge.StateEnrolled, 3: surge.StateFull, 4: surge.StateFull} {
			st, _ := room.Status(ctx, 1, s)
			assert.Equal(t, want, st.State, "student %d", s)
		}
		// A seat freed: the waiting list is offered first, lowest first.
		require.NoError(t, room.SeatsFreed(ctx, 1))
		b, err := room.Take(ctx, 1, 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, b.Candidates, 2)
		assert.Equal(t, int64(3), b.Candidates[0].StudentID, "lowest waiting ticket first")
		st, _ = room.Status(ctx, 1, 3)
		assert.Equal(t, surge.Status{State: surge.StateFull, Ticket: tickets[2]}, st, "a waiting-list student in flight still shows full")
		require.NoError(t, room.Release(ctx, b))
		st, _ = room.Status(ctx, 1, 3)
		assert.Equal(t, surge.StateFull, st.State, "handed back to the waiting list, not the queue")
		active, err := room.ActiveCourses(ctx)
		require.NoError(t, err)
		assert.Equal(t, []int64{1}, active, "released work keeps the course active")

		// Positions count the queued students ahead, not the waiting list in flight.
		late, err := room.Join(ctx, 1, 5)
		require.NoError(t, err)
		assert.Equal(t, int64(1), late.Position, "first in the queue")
		b, err = room.Take(ctx, 1, 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, b.Candidates, 3, "waiting list (2) + queue (1)")
		st, _ = room.Status(ctx, 1, 5)
		assert.Equal(t, int64(1), st.Position, "waiting-list students in flight are not counted")
		ok, err := room.Leave(ctx, 1, 4)
		require.NoError(t, err)
		assert.True(t, ok, "leave the waiting list while in flight")
		_, err = room.Complete(ctx, b, map[int64]surge.Outcome{3: surge.OutcomeFull, 5: surge.OutcomeFull})
		require.NoError(t, err)
		st, _ = room.Status(ctx, 1, 5)
		assert.Equal(t, surge.StateFull, st.State, "no seat: full")
		active, err = room.ActiveCourses(ctx)
		require.NoError(t, err)
		assert.Empty(t, active, "every student decided, no seat freed: nothing for a take")
		require.NoError(t, room.SeatsFreed(ctx, 1))
		active, err = room.ActiveCourses(ctx)
		require.NoError(t, err)
		assert.Equal(t, []int64{1}, active, "a freed seat makes the course active")
	})
}

// TestCancelWhileGrantInFlight: a student whose seat is committed but whose
// batch is not completed yet (state in flight) cancels the seat (the writer
// already shows it). The cancellation must win: state none, and the admitter's
// late completion hands the (already deleted) seat back instead of marking the
// student enrolled in Redis with no seat in PostgreSQL. The same holds for a
// student re-queued after a Redis loss who held a seat from before.
func TestCancelWhileGrantInFlight(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		room, _, _, _ := newRoom(t, mode)
		ctx := context.Background()
		const course = 7
		for s := int64(1); s <= 3; s++ {
			_, err := room.Join(ctx, course, s)
			require.NoError(t, err)
		}
		b, err := room.Take(ctx, course, 2, 5*time.Second)
		require.NoError(t, err)
		require.Len(t, b.Candidates, 2, "batch of the two lowest tickets")

		// Student 1: granted in PostgreSQL, then cancelled before Complete.
		_, err = room.Cancelled(ctx, course, 1)
		require.NoError(t, err)
		// Student 3: still queued, held a seat from before a Redis loss, cancels it.
		_, err = room.Cancelled(ctx, course, 3)
		require.NoError(t, err)

		left, err := room.Complete(ctx, b, map[int64]surge.Outcome{1: surge.OutcomeGranted, 2: surge.OutcomeGranted})
		require.NoError(t, err)
		assert.Equal(t, []int64{1}, left, "the cancelled student's late grant is handed back")
		require.NoError(t, room.Release(ctx, b), "the lease is kept for the give-back, then released")
		for s, want := range map[int64]surge.State{1: surge.StateNone, 2: surge.StateEnrolled, 3: surge.StateNone} {
			st, err := room.Status(ctx, course, s)
			require.NoError(t, err)
			assert.Equal(t, want, st.State, "student %d after cancel and completion", s)
		}
		b, err = room.Take(ctx, course, 10, 5*time.Second)
		require.NoError(t, err)
		assert.Empty(t, b.Candidates, "the cancelled queued student is not admitted again")
	})
}

// moveStats is the sum of the Redis commands that move a student between the
// queue, the in-flight set and the waiting list (INFO commandstats; the tests
// of this package do not run in parallel).
func moveStats(t *testing.T, rdb redis.UniversalClient) int64 {
	t.Helper()
	var mu sync.Mutex
	var info string
	require.NoError(t, redisconn.EachPrimary(context.Background(), rdb, func(ctx context.Context, c *redis.Client) error {
		s, err := c.Info(ctx, "commandstats").Result()
		mu.Lock()
		info += s + "\n"
		mu.Unlock()
		return err
	}))
	var sum int64
	for _, line := range strings.Split(info, "\n") {
		for _, cmd := range []string{"zadd", "zrem", "hset"} {
			if !strings.HasPrefix(line, "cmdstat_"+cmd+":calls=") {
				continue
			}
			v := strings.TrimPrefix(line, "cmdstat_"+cmd+":calls=")
			n, err := strconv.ParseInt(v[:strings.IndexByte(v, ',')], 10, 64)
			require.NoError(t, err)
			sum += n
		}
	}
	return sum
}

// TestFullCourseDoesNotCycleWaitingList: a full course with a growing waiting
// list and a stream of new joins. While no seat is freed, new joins cost
// moves proportional to their number only (a join to a course known full
// goes to the waiting list itself; students queued before that move in one
// step per batch), never to the waiting list's size; a freed seat (recorded
// after the batch that raced it) still goes to the lowest full ticket.
func TestFullCourseDoesNotCycleWaitingList(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		room, rdb, _, _ := newRoom(t, mode)
		ctx := context.Background()
		const course, joins, batch = 11, 50, 500
		student := int64(0)
		// drain runs batches as an admitter would on a full course (every
		// offered student is answered full) and returns the move commands used.
		drain := func() int64 {
			before := moveStats(t, rdb)
			for {
				b, err := room.Take(ctx, course, batch, time.Minute)
				require.NoError(t, err)
				if len(b.Candidates) == 0 {
					if b.Token != 0 {
						_, err = room.Complete(ctx, b, nil)
						require.NoError(t, err)
					}
					if b.Moved > 0 {
						continue
					}
					return moveStats(t, rdb) - before
				}
				out := map[int64]surge.Outcome{}
				for _, e := range b.Candidates {
					out[e.StudentID] = surge.OutcomeFull
				}
				_, err = room.Complete(ctx, b, out)
				require.NoError(t, err)
			}
		}
		join := func(n int) {
			for range n {
				student++
				_, err := room.Join(ctx, course, student)
				require.NoError(t, err)
			}
		}
		// The course fills: the first batch finds no seat, its students wait.
		join(joins)
		drain()
		var costs []int64
		for round := range 6 {
			join(10 * joins * round) // the waiting list grows: 50, 50, 550, 1550...
			drain()
			join(joins)
			cost := drain()
			costs = append(costs, cost)
			t.Logf("waiting list %d: %d move commands for %d new joins", student-joins, cost, joins)
		}
		for i, c := range costs {
			assert.LessOrEqual(t, c, int64(3*joins), "round %d: moves bounded by the new joins, not the waiting list", i)
			assert.Equal(t, costs[0], c, "round %d: same cost whatever the waiting list size", i)
		}

		// A seat freed in PostgreSQL just before a take whose freed mark lands
		// after it: the racing batch grants nobody, the seat goes to the lowest
		// full ticket once the mark lands.
		join(1)
		st, err := room.Status(ctx, course, student)
		require.NoError(t, err)
		assert.Equal(t, surge.StateFull, st.State, "known full: the new join is on the waiting list at once")
		b, err := room.Take(ctx, course, batch, time.Minute)
		require.NoError(t, err)
		assert.Empty(t, b.Candidates, "no seat freed yet: nobody offered a seat")
		assert.Zero(t, b.Moved, "nothing left to move")
		require.NoError(t, room.SeatsFreed(ctx, course))
		b, err = room.Take(ctx, course, batch, time.Minute)
		require.NoError(t, err)
		require.NotEmpty(t, b.Candidates)
		assert.Equal(t, int64(1), b.Candidates[0].StudentID, "lowest full ticket offered first")
		out := map[int64]surge.Outcome{1: surge.OutcomeGranted}
		for _, e := range b.Candidates[1:] {
			out[e.StudentID] = surge.OutcomeFull
		}
		_, err = room.Complete(ctx, b, out)
		require.NoError(t, err)
		st, err = room.Status(ctx, course, 1)
		require.NoError(t, err)
		assert.Equal(t, surge.StateEnrolled, st.State, "the freed seat went to the lowest full ticket")
		b, err = room.Take(ctx, course, batch, time.Minute)
		require.NoError(t, err)
		assert.Empty(t, b.Candidates, "the seat was taken by the waiting list: no re-offer")
	})
}

// TestQueuedCountsUndecidedStudents: the queued metric counts students in
// the queue and in a batch being granted, and drops as they are decided.
func TestQueuedCountsUndecidedStudents(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		room, _, _, _ := newRoom(t, mode)
		ctx := context.Background()
		for s := range 3 {
			_, err := room.Join(ctx, 1, int64(s+1))
			require.NoError(t, err)
		}
		for s := range 2 {
			_, err := room.Join(ctx, 2, int64(s+1))
			require.NoError(t, err)
		}
		courses, err := room.ActiveCourses(ctx)
		require.NoError(t, err)
		assert.ElementsMatch(t, []int64{1, 2}, courses)
		n, err := room.Queued(ctx, courses)
		require.NoError(t, err)
		assert.Equal(t, int64(5), n, "three queued for course 1, two for course 2")

		b, err := room.Take(ctx, 1, 2, time.Minute)
		require.NoError(t, err)
		require.Len(t, b.Candidates, 2)
		n, err = room.Queued(ctx, courses)
		require.NoError(t, err)
		assert.Equal(t, int64(5), n, "a batch being granted is not decided yet")

		_, err = room.Complete(ctx, b, map[int64]surge.Outcome{b.Candidates[0].StudentID: surge.OutcomeGranted, b.Candidates[1].StudentID: surge.OutcomeFull})
		require.NoError(t, err)
		n, err = room.Queued(ctx, courses)
		require.NoError(t, err)
		assert.Equal(t, int64(3), n, "decided students leave the count")

		n, err = room.Queued(ctx, nil)
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}
