package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/redisconn"
	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/testenv"
)

// TestCancellationsRaceJoins: while students keep joining through three
// instances, enrolled students cancel (some join again, at the back), and
// queued or full students leave. At the quiet moment afterwards the seats are
// held by exactly the lowest tickets of the students still in the game, the
// rest are full (invariant 2, cancellations included).
func TestCancellationsRaceJoins(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		const n, seats = 240, 20
		c := newClusterMode(t, mode, 3, testenv.AppOptions{})
		course := c.course("RACE", seats)
		ss := c.students("c", n)
		rng := rand.New(rand.NewPCG(1, 2))
		perm := rng.Perm(n)

		var wg sync.WaitGroup
		var stop atomic.Bool
		var cancels, rejoins, leaves atomic.Int64
		// Joiners: in waves over ~1.5s.
		for w := range 6 {
			wg.Go(func() {
				time.Sleep(time.Duration(w) * 250 * time.Millisecond)
				for _, i := range perm[w*n/6 : (w+1)*n/6] {
					s := ss[i]
					r, err := s.clients[i%3].Do("POST", queuePath(course), nil)
					if assert.NoError(t, err) {
						// 200 full: a join to a course known full is on the waiting list at once.
						assert.Contains(t, []int{http.StatusAccepted, http.StatusOK}, r.Status, "join %d: %s", i, r.Body)
					}
				}
			})
		}
		// Cancellers and leavers race the joiners.
		for w := range 4 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				for !stop.Load() {
					i := rng.IntN(n/4)*4 + w // each worker owns a quarter of the students
					s := ss[i]
					cl := s.clients[rng.IntN(3)]
					r, err := cl.Do("GET", queuePath(course), nil)
					if err != nil || r.Status != http.StatusOK {
						continue
					}
					switch r.JSON()["state"] {
					case "enrolled":
						r, err := cl.Do("DELETE", fmt.Sprintf("/api/enrollments/%d", course), nil)
						if assert.NoError(t, err) && assert.Equal(t, http.StatusNoContent, r.Status, "cancel: %s", r.Body) {
							cancels.Add(1)
							if rng.IntN(2) == 0 {
								r, err := cl.Do("POST", queuePath(course), nil)
								if assert.NoError(t, err) {
									assert.Contains(t, []int{http.StatusAccepted, http.StatusOK}, r.Status, "re-join after cancel: %s", r.Body)
									rejoins.Add(1)
								}
							}
						}
					case "full", "queued":
						if rng.IntN(4) == 0 {
							r, err := cl.Do("DELETE", queuePath(course), nil)
							if assert.NoError(t, err) && r.Status == http.StatusNoContent {
								leaves.Add(1)
							}
						}
					}
					time.Sleep(5 * time.Millisecond)
				}
			})
		}
		time.Sleep(2500 * time.Millisecond)
		stop.Store(true)
		wg.Wait()
		t.Logf("cancels %d (re-joined %d), leaves %d", cancels.Load(), rejoins.Load(), leaves.Load())
		require.Positive(t, cancels.Load(), "some cancellations happened")

		err := c.waitFIFO(course, seats, ss, 8*time.Second)
		if err != nil {
			ctx := context.Background()
			p := courseKeys(c.sh.Prefix, course)
			t.Logf("DEBUG freed=%v lease=%v q=%v i=%v f=%v",
				c.sh.Redis.Get(ctx, p+"freed").Val(), c.sh.Redis.Get(ctx, p+"lease").Val(),
				c.sh.Redis.ZRangeWithScores(ctx, p+"q", 0, -1).Val(), c.sh.Redis.ZRangeWithScores(ctx, p+"i", 0, -1).Val(),
				c.sh.Redis.ZRangeWithScores(ctx, p+"f", 0, 3).Val())
		}
		require.NoError(t, err, "quiet state respects FIFO")
	})
}

var errCrash = errors.New("simulated crash")

// TestAdmitterKilledMidBatch: an admitter takes a batch and dies before
// committing (no grant, no release). Its lease expires and another
// instance's admitter admits those students with their original tickets,
// FIFO; nobody is lost (invariant 3).
func TestAdmitterKilledMidBatch(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		const n, seats = 30, 10
		lease := time.Second
		var crashed atomic.Bool
		took := make(chan surge.Batch, 1)
		sh := env.NewSharedMode(t, mode)
		dying := env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, Admitter: testenv.AdmitterOptions(lease, func(ctx context.Context, b surge.Batch) error {
			if crashed.CompareAndSwap(false, true) {
				took <- b
				return errCrash
			}
			return nil
		})})
		healthy := env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, Admitter: testenv.AdmitterOptions(lease, nil)})
		c := &cluster{t: t, sh: sh, apps: []*testenv.App{dying, healthy}}
		course := c.course("KILL", seats)
		ss := c.students("k", n)
		tickets := map[int64]int64{}
		for i, s := range ss {
			r := s.clients[i%2].Must("POST", queuePath(course), nil)
			require.Equal(t, http.StatusAccepted, r.Status)
			tickets[s.id] = int64(r.JSON()["ticket"].(float64))
		}

		require.True(t, dying.Admitter.Tick(context.Background()) == false, "the crashed tick did no work")
		b := <-took
		require.NotEmpty(t, b.Candidates, "the dying admitter took a batch")
		for _, e := range b.Candidates {
			assert.Equal(t, tickets[e.StudentID], e.Ticket, "batch carries the original ticket of %d", e.StudentID)
		}
		crashedAt := time.Now()

		// While the lease holds, nobody else touches the course, and the taken
		// students still show as queued.
		healthy.Admitter.Tick(context.Background())
		db, _ := c.dbEnrollments(course)
		assert.Empty(t, db, "no seat granted while the dead admitter's lease holds")
		sts, err := c.states(course, ss)
		require.NoError(t, err)
		for _, s := range ss {
			assert.Equal(t, "queued", sts[s.id].State, "student %d while leased", s.id)
		}

		// After expiry the healthy admitter takes them back with their tickets.
		require.Eventually(t, func() bool {
			healthy.Admitter.Tick(context.Background())
			db, _ := c.dbEnrollments(course)
			return len(db) == seats
		}, 5*time.Second, 50*time.Millisecond, "seats granted after the lease expired")
		assert.GreaterOrEqual(t, time.Since(crashedAt), lease-100*time.Millisecond, "not before the lease expired")
		healthy.Admitter.Tick(context.Background())
		require.NoError(t, c.checkFIFO(course, seats, ss), "FIFO with original tickets after the crash")
		db, _ = c.dbEnrollments(course)
		for sid, tk := range db {
			assert.Equal(t, tickets[sid], tk, "student %d enrolled with the ticket from their join", sid)
		}
	})
}

// TestAdmitterStoppedMidBatchHandsBack: an admitter whose context ends after
// it took a batch (shutdown) hands the lease back at once: the students are
// admitted by another instance without waiting for the lease to expire.
func TestAdmitterStoppedMidBatchHandsBack(t *testing.T) {
	testenv.EachMode(t, func(t *testing.T, mode redisconn.Mode) {
		const n, seats = 12, 5
		lease := 30 * time.Second // far longer than the test: only a hand-back explains success
		ctx, stop := context.WithCancel(context.Background())
		sh := env.NewSharedMode(t, mode)
		stopping := env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, Admitter: testenv.AdmitterOptions(lease, func(context.Context, surge.Batch) error {
			stop() // SIGTERM arrives between take and grant
			return nil
		})})
		healthy := env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, Admitter: testenv.AdmitterOptions(lease, nil)})
		c := &cluster{t: t, sh: sh, apps: []*testenv.App{stopping, healthy}}
		course := c.course("STOP", seats)
		ss := c.students("h", n)
		for i, s := range ss {
			require.Equal(t, http.StatusAccepted, s.clients[i%2].Must("POST", queuePath(course), nil).Status)
		}
		stopping.Admitter.Run(ctx) // returns after handing back
		db, _ := c.dbEnrollments(course)
		require.Empty(t, db, "the stopped admitter granted nothing")
		healthy.Admitter.Tick(context.Background())
		healthy.Admitter.Tick(context.Background())
		require.NoError(t, c.checkFIFO(course, seats, ss), "students handed back and admitted in order")
	})
}
