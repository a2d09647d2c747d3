package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/admitter"
	"github.com/surge-dev/surge/app/internal/testenv"
	"github.com/surge-dev/surge/app/internal/waitroom"
)

// TestCapacityRaiseBeyondOneBatchKeepsFIFO: two instances with small
// batches; the course is full with a waiting list several batches long and
// late joiners queued when the capacity is raised far beyond one batch. The
// seats go to the lowest tickets: no late joiner passes a lower full ticket.
func TestCapacityRaiseBeyondOneBatchKeepsFIFO(t *testing.T) {
	const seats, waiting, late, raised = 5, 50, 10, 40
	// The admitters are ticked by hand, alternating, so that the late
	// joiners are still queued when the capacity goes up.
	c := newCluster(t, 2, testenv.AppOptions{NoAdmitter: true, Admitter: admitter.Options{MaxBatch: 16, FullBatch: 16}})
	course := c.course("RAISE", seats)
	ss := c.students("w", seats+waiting+late)
	tick := func(n int) {
		for i := range n {
			c.apps[i%2].Admitter.Tick(context.Background())
		}
	}
	c.joinAll(t, course, ss[:seats+waiting])
	tick(4)
	c.waitProcessed(t, course, ss[:seats+waiting])
	c.joinAll(t, course, ss[seats+waiting:])
	r := env.NewClient(t, c.apps[1].HTTP.URL).Admin("PUT", fmt.Sprintf("/api/admin/courses/%d", course), map[string]any{"capacity": raised})
	require.Equal(t, http.StatusOK, r.Status, "raise capacity: %s", r.Body)
	tick(20)
	require.NoError(t, c.waitFIFO(course, raised, ss, 10*time.Second), "seats of the raise go to the lowest tickets")
}

// TestGiveBackAfterLeaseGone: a student leaves while their grant is in flight
// and joins again. The batch that granted them completes and must give the
// seat back; before it does, another admitter runs a batch. Whatever the
// order, the student is never shown enrolled without a seat: the give-back
// happens under the lease, and it only deletes the seat its batch granted
// under the fence it held.
func TestGiveBackAfterLeaseGone(t *testing.T) {
	sh := env.NewShared(t)
	var other *testenv.App
	var left, interleaved atomic.Bool
	var ss []*student
	var course int64
	ao := testenv.AdmitterOptions(5*time.Second, func(ctx context.Context, b waitroom.Batch) error {
		if left.CompareAndSwap(false, true) {
			s := ss[0]
			require.Equal(t, http.StatusNoContent, s.clients[0].Must("DELETE", queuePath(course), nil).Status, "leave while in flight")
			require.Equal(t, http.StatusAccepted, s.clients[0].Must("POST", queuePath(course), nil).Status, "join again")
		}
		return nil
	})
	ao.BeforeGiveBack = func(ctx context.Context, b waitroom.Batch) {
		if interleaved.CompareAndSwap(false, true) {
			other.Admitter.Tick(ctx)
		}
	}
	first := env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, Admitter: ao})
	other = env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, Admitter: testenv.AdmitterOptions(5*time.Second, nil)})
	c := &cluster{t: t, sh: sh, apps: []*testenv.App{first, other}}
	course = c.course("GIVE", 3)
	ss = c.students("g", 1)
	require.Equal(t, http.StatusAccepted, ss[0].clients[0].Must("POST", queuePath(course), nil).Status)
	first.Admitter.Tick(context.Background())
	require.True(t, interleaved.Load(), "the other admitter ran between completion and give-back")
	for range 3 {
		other.Admitter.Tick(context.Background())
	}
	sts, err := c.states(course, ss)
	require.NoError(t, err)
	db, _ := c.dbEnrollments(course)
	_, seat := db[ss[0].id]
	require.Equal(t, "enrolled", sts[ss[0].id].State, "the re-joined student ends up enrolled")
	require.True(t, seat, "shown enrolled: holds a seat")
}

// TestCounterRollbackHealsWithinOneTick: Redis comes back with every key of a
// course rolled back by a few increments (ticket counter included) after a
// batch granted under a higher fencing token. The next batch's token is
// below the database's fence; the admitter must notice, heal the counter and
// grant within the same tick instead of stalling one lease per increment.
func TestCounterRollbackHealsWithinOneTick(t *testing.T) {
	c := newCluster(t, 1, testenv.AppOptions{NoAdmitter: true, Admitter: testenv.AdmitterOptions(5*time.Second, nil)})
	course := c.course("ROLL", 20)
	ss := c.students("r", 10)
	c.joinAll(t, course, ss[:5])
	c.apps[0].Admitter.Tick(context.Background())
	c.waitProcessed(t, course, ss[:5])

	ctx := context.Background()
	p := fmt.Sprintf("%sc:%d:", c.sh.Prefix, course)
	cur, err := c.sh.Redis.Get(ctx, p+"seq").Int64()
	require.NoError(t, err)
	for _, k := range []string{"seq", "hi"} {
		require.NoError(t, c.sh.Redis.Set(ctx, p+k, cur-10, 0).Err(), "roll back %s", k)
	}
	c.joinAll(t, course, ss[5:])
	start := time.Now()
	c.apps[0].Admitter.Tick(context.Background())
	db, _ := c.dbEnrollments(course)
	require.Len(t, db, 10, "every student granted in the tick after the rollback")
	require.Less(t, time.Since(start), 2*time.Second, "healed well within one lease")
	require.NoError(t, c.checkFIFO(course, 20, ss))
}
