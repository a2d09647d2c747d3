package admitter_test

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/admitter"
	"github.com/surge-dev/surge/app/internal/redisconn"
	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/testenv"
	"github.com/surge-dev/surge/app/internal/waitroom"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

// store is the database as the admitter sees it: seats per course, granted
// in the batch's order under the course's fence, as postgres.Store does.
type store struct {
	mu       sync.Mutex
	capacity int
	fence    map[int64]int64
	seats    map[int64]map[int64]int64 // course -> student -> ticket
	epoch    atomic.Int64
}

func newStore(capacity int) *store {
	return &store{capacity: capacity, fence: map[int64]int64{}, seats: map[int64]map[int64]int64{}}
}

func (s *store) NextTicketEpoch(context.Context, int64) (int64, error) { return s.epoch.Add(1), nil }

func (s *store) Grant(_ context.Context, course, fence int64, cands []surge.Candidate) (surge.GrantResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fence <= s.fence[course] {
		return surge.GrantResult{}, &surge.StaleFenceError{Fence: s.fence[course]}
	}
	s.fence[course] = fence
	if s.seats[course] == nil {
		s.seats[course] = map[int64]int64{}
	}
	var r surge.GrantResult
	for _, c := range cands {
		switch _, held := s.seats[course][c.StudentID]; {
		case held:
			r.AlreadyEnrolled = append(r.AlreadyEnrolled, c.StudentID)
		case len(s.seats[course]) < s.capacity:
			s.seats[course][c.StudentID] = c.Ticket
			r.Granted = append(r.Granted, c.StudentID)
		default:
			r.Full = append(r.Full, c.StudentID)
		}
	}
	r.SeatsLeft = s.capacity - len(s.seats[course])
	return r, nil
}

func (s *store) GiveBack(_ context.Context, course, student, ticket, _ int64) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.seats[course][student]; ok && t == ticket {
		delete(s.seats[course], student)
		return true, nil
	}
	return false, nil
}

func (s *store) CoursesWithSeats(_ context.Context, ids []int64) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	for _, c := range ids {
		if len(s.seats[c]) < s.capacity {
			out = append(out, c)
		}
	}
	return out, nil
}

// cancel deletes a seat.
func (s *store) cancel(course, student int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.seats[course], student)
}

func (s *store) holders(course int64) map[int64]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]int64{}
	for k, v := range s.seats[course] {
		out[k] = v
	}
	return out
}

// TestAdmittersKeepEveryCourseFIFO: three admitters (three instances'
// clients) admit nine courses spread over the Redis Cluster's masters, or on
// one standalone Redis, while students join in random order. Every course
// ends with its seats held by its lowest tickets and the rest on the waiting
// list; a cancelled seat goes to the lowest waiting ticket, and so does a
// seat whose wake-up was lost (found by the sweep).
func TestAdmittersKeepEveryCourseFIFO(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		const perCourse, capacity = 12, 4
		courses := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}
		st := newStore(capacity)
		rdb, prefix := env.RedisClientMode(t, mode)
		room := waitroom.New(rdb, prefix, st)
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 3 {
			other, _ := env.RedisClientMode(t, mode)
			a := admitter.New(waitroom.New(other, prefix, st), st, admitter.Options{
				Interval: 5 * time.Millisecond, Lease: 2 * time.Second, MaxBatch: 3, SweepInterval: 100 * time.Millisecond})
			wg.Go(func() { a.Run(ctx) })
		}
		defer func() { stop(); wg.Wait() }()

		for _, c := range courses {
			require.NoError(t, room.Seed(ctx, c))
		}
		type join struct{ course, student int64 }
		var joins []join
		for _, c := range courses {
			for s := int64(1); s <= perCourse; s++ {
				joins = append(joins, join{c, s})
			}
		}
		rand.Shuffle(len(joins), func(i, j int) { joins[i], joins[j] = joins[j], joins[i] })
		tickets := map[int64]map[int64]int64{}
		var mu sync.Mutex
		var jw sync.WaitGroup
		for _, j := range joins {
			jw.Go(func() {
				s, err := room.Join(ctx, j.course, j.student)
				if assert.NoError(t, err) {
					mu.Lock()
					if tickets[j.course] == nil {
						tickets[j.course] = map[int64]int64{}
					}
					tickets[j.course][j.student] = s.Ticket
					mu.Unlock()
				}
			})
		}
		jw.Wait()

		// lowest returns the students of a course still in the game, by ticket.
		lowest := func(c int64, gone map[int64]bool) []int64 {
			var ss []int64
			for s := range tickets[c] {
				if !gone[s] {
					ss = append(ss, s)
				}
			}
			slices.SortFunc(ss, func(a, b int64) int { return int(tickets[c][a] - tickets[c][b]) })
			return ss
		}
		// settled waits until every course's seats are held by its lowest
		// tickets, Redis agrees, and everyone else is on the waiting list.
		settled := func(gone map[int64]map[int64]bool) {
			t.Helper()
			require.Eventually(t, func() bool {
				for _, c := range courses {
					order := lowest(c, gone[c])
					held := st.holders(c)
					if len(held) != capacity {
						return false
					}
					for n, s := range order {
						got, err := room.Status(ctx, c, s)
						if err != nil {
							return false
						}
						want := surge.StateFull
						if n < capacity {
							want = surge.StateEnrolled
							if held[s] != tickets[c][s] {
								return false
							}
						}
						if got.State != want {
							return false
						}
					}
				}
				return true
			}, 20*time.Second, 20*time.Millisecond)
		}
		settled(nil)

		// A cancelled seat goes to the lowest waiting ticket.
		gone := map[int64]map[int64]bool{}
		for _, c := range courses {
			first := lowest(c, nil)[0]
			st.cancel(c, first)
			_, err := room.Cancelled(ctx, c, first)
			require.NoError(t, err)
			gone[c] = map[int64]bool{first: true}
		}
		settled(gone)

		// So does a seat freed in the database whose wake-up never reached
		// Redis: only the sweep finds it.
		for _, c := range courses {
			second := lowest(c, gone[c])[0]
			st.cancel(c, second)
			gone[c][second] = true
		}
		settled(gone)
	})
}
