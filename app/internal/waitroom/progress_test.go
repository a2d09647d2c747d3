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

// TestDecidedThrough: the counter stops below the lowest ticket still
// queued or in flight from the queue, and reaches the last ticket issued
// once everyone was decided.
func TestDecidedThrough(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		ctx := context.Background()
		const course = 7
		join := func(t *testing.T, room *waitroom.Room, students ...int64) []int64 {
			var tickets []int64
			for _, s := range students {
				st, err := room.Join(ctx, course, s)
				require.NoError(t, err)
				tickets = append(tickets, st.Ticket)
			}
			return tickets
		}
		decided := func(t *testing.T, room *waitroom.Room) int64 {
			d, err := room.DecidedThrough(ctx, course)
			require.NoError(t, err)
			return d
		}
		tests := []struct {
			name string
			// run acts on the room and returns the expected counter.
			run func(t *testing.T, room *waitroom.Room) int64
			// everyone: everyone was decided, and fencing tokens come from the
			// ticket counter too, so the counter is at least the expected value
			// and below the next ticket issued.
			everyone bool
		}{
			{"no counter", func(*testing.T, *waitroom.Room) int64 { return 0 }, false},
			{"seeded, nobody joined", func(t *testing.T, room *waitroom.Room) int64 {
				require.NoError(t, room.Seed(ctx, course))
				return 1 << waitroom.EpochBits
			}, true},
			{"all queued", func(t *testing.T, room *waitroom.Room) int64 {
				tk := join(t, room, 1, 2, 3)
				return tk[0] - 1
			}, false},
			{"a batch in flight", func(t *testing.T, room *waitroom.Room) int64 {
				tk := join(t, room, 1, 2, 3)
				b, err := room.Take(ctx, course, 2, time.Minute)
				require.NoError(t, err)
				require.Len(t, b.Candidates, 2)
				return tk[0] - 1
			}, false},
			{"first batch decided", func(t *testing.T, room *waitroom.Room) int64 {
				tk := join(t, room, 1, 2, 3)
				b, err := room.Take(ctx, course, 2, time.Minute)
				require.NoError(t, err)
				_, err = room.Complete(ctx, b, map[int64]surge.Outcome{1: surge.OutcomeGranted, 2: surge.OutcomeFull})
				require.NoError(t, err)
				return tk[2] - 1
			}, false},
			{"one outcome missing stays undecided", func(t *testing.T, room *waitroom.Room) int64 {
				tk := join(t, room, 1, 2, 3)
				b, err := room.Take(ctx, course, 3, time.Minute)
				require.NoError(t, err)
				_, err = room.Complete(ctx, b, map[int64]surge.Outcome{1: surge.OutcomeGranted, 3: surge.OutcomeGranted})
				require.NoError(t, err)
				return tk[1] - 1
			}, false},
			{"lowest left the queue", func(t *testing.T, room *waitroom.Room) int64 {
				tk := join(t, room, 1, 2, 3)
				ok, err := room.Leave(ctx, course, 1)
				require.NoError(t, err)
				require.True(t, ok)
				return tk[1] - 1
			}, false},
			{"all decided", func(t *testing.T, room *waitroom.Room) int64 {
				tk := join(t, room, 1, 2, 3)
				b, err := room.Take(ctx, course, 3, time.Minute)
				require.NoError(t, err)
				_, err = room.Complete(ctx, b, map[int64]surge.Outcome{
					1: surge.OutcomeGranted, 2: surge.OutcomeFull, 3: surge.OutcomeFull})
				require.NoError(t, err)
				return tk[2]
			}, true},
			{"waiting list offered a freed seat stays decided", func(t *testing.T, room *waitroom.Room) int64 {
				tk := join(t, room, 1, 2)
				b, err := room.Take(ctx, course, 2, time.Minute)
				require.NoError(t, err)
				_, err = room.Complete(ctx, b, map[int64]surge.Outcome{1: surge.OutcomeFull, 2: surge.OutcomeFull})
				require.NoError(t, err)
				require.NoError(t, room.SeatsFreed(ctx, course))
				b, err = room.Take(ctx, course, 5, time.Minute)
				require.NoError(t, err)
				require.Len(t, b.Candidates, 2, "waiting list offered")
				return tk[1]
			}, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				room, _, _, _ := newRoom(t, mode)
				want := tt.run(t, room)
				got := decided(t, room)
				if !tt.everyone {
					assert.Equal(t, want, got)
					return
				}
				assert.GreaterOrEqual(t, got, want, "every ticket issued is decided")
				next := join(t, room, 99)
				assert.Less(t, got, next[0], "a new ticket is not claimed")
			})
		}
	})
}
