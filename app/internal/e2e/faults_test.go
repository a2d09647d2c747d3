package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/admitter"
	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/testenv"
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
	ao := testenv.AdmitterOptions(5*time.Second, func(ctx context.Context, b surge.Batch) error {
		if left.CompareAndSwap(false, true) {
			s := ss[0]
			require.Equal(t, http.StatusNoContent, s.clients[0].Must("DELETE", queuePath(course), nil).Status, "leave while in flight")
			require.Equal(t, http.StatusAccepted, s.clients[0].Must("POST", queuePath(course), nil).Status, "join again")
		}
		return nil
	})
	ao.BeforeGiveBack = func(ctx context.Context, b surge.Batch) {
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
	p := courseKeys(c.sh.Prefix, course)
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

// onStatement calls f after every statement of the request path whose SQL
// starts with prefix has completed (committed, for an autocommit statement).
type onStatement struct {
	prefix string
	f      func()
}

func (o onStatement) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (o onStatement) TraceQueryEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	if d.Err == nil && strings.HasPrefix(d.CommandTag.String(), o.prefix) {
		o.f()
	}
}

// pollState is the student's state in the course as one poll shows it.
func pollState(t *testing.T, cl *testenv.Client, course int64) string {
	t.Helper()
	r := cl.Must("GET", queuePath(course), nil)
	require.Equal(t, http.StatusOK, r.Status, "poll: %s", r.Body)
	return r.JSON()["state"].(string)
}

// waitEnrolled waits until the student's poll says enrolled and returns how
// long it took.
func waitEnrolled(t *testing.T, cl *testenv.Client, course int64, within time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	for pollState(t, cl, course) != "enrolled" {
		if time.Since(start) > within {
			t.Fatalf("%s: not enrolled after %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// TestCancelCommittedThenRedisFails: PostgreSQL commits a cancellation and
// Redis becomes unreachable right after. The student is never shown enrolled
// without a seat, and the freed seat reaches the lowest full ticket within
// about a second once Redis answers again.
func TestCancelCommittedThenRedisFails(t *testing.T) {
	sh := env.NewShared(t)
	proxy := testenv.NewProxy(t, env.Redis.Addr())
	var armed atomic.Bool
	downAt := make(chan time.Time, 1)
	faulty := env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, RedisAddr: proxy.Addr(),
		ServerTracer: onStatement{prefix: "DELETE", f: func() {
			if armed.CompareAndSwap(true, false) {
				proxy.SetDown(true)
				downAt <- time.Now()
				time.AfterFunc(700*time.Millisecond, func() { proxy.SetDown(false) })
			}
		}}})
	healthy := env.NewApp(t, sh, testenv.AppOptions{Admitter: testenv.AdmitterOptions(5*time.Second, nil)})
	c := &cluster{t: t, sh: sh, apps: []*testenv.App{healthy, faulty}}
	course := c.course("CXL", 1)
	ss := c.students("x", 3)
	for _, s := range ss {
		// The last may find the course known full: on the waiting list at once (200).
		require.Contains(t, []int{http.StatusAccepted, http.StatusOK}, s.clients[0].Must("POST", queuePath(course), nil).Status)
		time.Sleep(50 * time.Millisecond)
	}
	c.waitProcessed(t, course, ss)
	require.Equal(t, "enrolled", pollState(t, ss[0].clients[0], course))

	armed.Store(true)
	r := ss[0].clients[1].Must("DELETE", fmt.Sprintf("/api/enrollments/%d", course), nil)
	t.Logf("cancel through the failing instance: %d %s", r.Status, r.Body)
	require.False(t, armed.Load(), "Redis went down right after the delete committed")
	db, _ := c.dbEnrollments(course)
	_, held := db[ss[0].id]
	require.False(t, held, "the delete committed")
	assert.NotEqual(t, "enrolled", pollState(t, ss[0].clients[0], course), "never shown enrolled without a seat")
	took := waitEnrolled(t, ss[1].clients[0], course, 5*time.Second, "lowest full ticket")
	since := time.Since(<-downAt)
	t.Logf("seat reached the lowest full ticket %s after the fault (%s after Redis came back)", since, since-700*time.Millisecond)
	assert.Less(t, since-700*time.Millisecond, 1500*time.Millisecond, "within about a second of Redis answering again (took %s polling)", took)
	assert.Equal(t, "full", pollState(t, ss[2].clients[0], course))
	assert.NotEqual(t, "enrolled", pollState(t, ss[0].clients[0], course))
}

// TestFreeSeatAfterRedisDataLoss: Redis loses the course's data; the students
// join again and find the course full. Then a seat appears in PostgreSQL
// while the instance that made it cannot tell Redis (capacity raised during
// a Redis blip). The seat goes to the lowest full ticket within about a
// second, not after a 30 s sweep.
func TestFreeSeatAfterRedisDataLoss(t *testing.T) {
	sh := env.NewShared(t)
	proxy := testenv.NewProxy(t, env.Redis.Addr())
	faulty := env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, RedisAddr: proxy.Addr()})
	healthy := env.NewApp(t, sh, testenv.AppOptions{Admitter: testenv.AdmitterOptions(5*time.Second, nil)})
	c := &cluster{t: t, sh: sh, apps: []*testenv.App{healthy, faulty}}
	course := c.course("LOSS", 2)
	ss := c.students("l", 4)
	c.joinAll(t, course, ss[:2])
	c.waitProcessed(t, course, ss[:2])

	ctx := context.Background()
	keys, err := sh.Redis.Keys(ctx, sh.Prefix+"*").Result()
	require.NoError(t, err)
	require.NoError(t, sh.Redis.Del(ctx, keys...).Err(), "Redis loses every key")
	for _, s := range ss {
		require.True(t, s.login(t), "sign in again")
	}
	for _, s := range ss[2:] {
		require.Equal(t, http.StatusAccepted, s.clients[0].Must("POST", queuePath(course), nil).Status)
		time.Sleep(50 * time.Millisecond)
	}
	c.waitProcessed(t, course, ss[2:])
	require.Equal(t, "full", pollState(t, ss[2].clients[0], course))

	proxy.SetDown(true)
	r := env.NewClient(t, faulty.HTTP.URL).Admin("PUT", fmt.Sprintf("/api/admin/courses/%d", course), map[string]any{"capacity": 3})
	require.Equal(t, http.StatusOK, r.Status, "the capacity change commits: %s", r.Body)
	proxy.SetDown(false)
	took := waitEnrolled(t, ss[2].clients[0], course, 5*time.Second, "lowest full ticket")
	assert.Less(t, took, 1500*time.Millisecond, "the free seat was idle for %s", took)
	assert.Equal(t, "full", pollState(t, ss[3].clients[0], course))
}

// TestCapacityRaiseWakesWaitingList: raising a course's capacity hands the
// new seat to the waiting list at once (the periodic seat check is pushed
// out of the test's reach, so only the wake-up can explain it).
func TestCapacityRaiseWakesWaitingList(t *testing.T) {
	ao := testenv.AdmitterOptions(5*time.Second, nil)
	ao.SweepInterval = time.Hour
	c := newCluster(t, 1, testenv.AppOptions{Admitter: ao})
	course := c.course("WAKE", 1)
	ss := c.students("k", 2)
	for _, s := range ss {
		require.Equal(t, http.StatusAccepted, s.clients[0].Must("POST", queuePath(course), nil).Status)
		time.Sleep(50 * time.Millisecond)
	}
	c.waitProcessed(t, course, ss)
	require.Equal(t, "full", pollState(t, ss[1].clients[0], course))
	r := env.NewClient(t, c.apps[0].HTTP.URL).Admin("PUT", fmt.Sprintf("/api/admin/courses/%d", course), map[string]any{"capacity": 2})
	require.Equal(t, http.StatusOK, r.Status)
	waitEnrolled(t, ss[1].clients[0], course, time.Second, "the waiting student after the capacity raise")
}

// TestWaitingRoomServesThroughPostgresOutage: with PostgreSQL down for longer
// than the course cache's freshness, joining and polling keep answering from
// Redis (stale course metadata, age bounded); sign-in, the enrollments list,
// cancel and admin answer 503 with Retry-After; grants resume by themselves
// when the database is back.
func TestWaitingRoomServesThroughPostgresOutage(t *testing.T) {
	const seats = 12
	c := newCluster(t, 2, testenv.AppOptions{})
	course := c.course("PGDOWN", seats)
	ss := c.students("o", 20)
	c.joinAll(t, course, ss[:10])
	c.waitProcessed(t, course, ss[:10])
	// Both instances have seen the course (and the list).
	require.Equal(t, http.StatusOK, ss[0].clients[0].Must("GET", "/api/courses", nil).Status)
	for _, a := range c.apps {
		require.Equal(t, http.StatusOK, ss[0].clients[0].WithBase(a.HTTP.URL).Must("GET", queuePath(course), nil).Status)
	}

	require.NoError(t, env.PG.Stop(context.Background()))
	pgUp := false
	defer func() {
		if !pgUp {
			_ = env.PG.Start(context.Background())
		}
	}()
	time.Sleep(3 * time.Second) // past the cache's freshness and fallback copy
	for i, s := range ss[:10] {
		r := s.clients[i%2].Must("GET", queuePath(course), nil)
		require.Equal(t, http.StatusOK, r.Status, "poll %d during the outage: %s", i, r.Body)
		assert.Equal(t, "enrolled", r.JSON()["state"])
	}
	for i, s := range ss[10:] {
		r := s.clients[i%2].Must("POST", queuePath(course), nil)
		require.Equal(t, http.StatusAccepted, r.Status, "join %d during the outage: %s", i, r.Body)
	}
	r := ss[0].clients[0].Must("GET", "/api/courses", nil)
	assert.Equal(t, http.StatusOK, r.Status, "course list from the stale copy: %s", r.Body)
	for what, r := range map[string]testenv.Response{
		"sign-in":     env.NewClient(t, c.apps[0].HTTP.URL).Must("POST", "/api/login", map[string]string{"studentNo": ss[0].no, "password": "pw"}),
		"enrollments": ss[0].clients[0].Must("GET", "/api/enrollments", nil),
		"cancel":      ss[1].clients[1].Must("DELETE", fmt.Sprintf("/api/enrollments/%d", course), nil),
		"admin":       env.NewClient(t, c.apps[1].HTTP.URL).Admin("POST", "/api/admin/courses", map[string]any{"code": "X", "title": "X", "capacity": 1, "opensAt": "2020-01-01T00:00:00Z"}),
	} {
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, "%s during the outage: %s", what, r.Body)
		assert.NotEmpty(t, r.Header.Get("Retry-After"), "%s: Retry-After", what)
	}
	assert.Equal(t, "enrolled", pollState(t, ss[1].clients[0], course), "a cancel refused by the outage changes nothing")

	require.NoError(t, env.PG.Start(context.Background()))
	pgUp = true
	c.waitProcessed(t, course, ss)
	require.NoError(t, c.waitFIFO(course, seats, ss, 10*time.Second), "grants resumed in ticket order")
}

// TestStaleAdmitterRefused: an admitter stalls after taking a batch until its
// lease has expired and another admitter took the students over. Its late
// grant is refused by the database's fence (a student who cancelled
// meanwhile does not get a seat back), and its late completion does not
// touch the live lease of the admitter that holds the course now.
func TestStaleAdmitterRefused(t *testing.T) {
	const lease = time.Second
	sh := env.NewShared(t)
	took, resume := make(chan surge.Batch, 1), make(chan struct{})
	var stall atomic.Bool
	stalling := env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, Admitter: testenv.AdmitterOptions(lease, func(ctx context.Context, b surge.Batch) error {
		if stall.CompareAndSwap(true, false) {
			took <- b
			<-resume
		}
		return nil
	})})
	var midB func(b surge.Batch)
	current := env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, Admitter: testenv.AdmitterOptions(lease, func(ctx context.Context, b surge.Batch) error {
		if midB != nil {
			f := midB
			midB = nil
			f(b)
		}
		return nil
	})})
	c := &cluster{t: t, sh: sh, apps: []*testenv.App{current, stalling}}
	ctx := context.Background()
	stale := func() (started, done chan struct{}) {
		started, done = make(chan struct{}), make(chan struct{})
		stall.Store(true)
		go func() {
			defer close(done)
			close(started)
			stalling.Admitter.Tick(ctx)
		}()
		<-started
		<-took
		time.Sleep(lease + 100*time.Millisecond) // the stalled lease expires
		return started, done
	}

	// The late grant.
	course := c.course("STALE1", 2)
	ss := c.students("s", 3)
	for _, s := range ss {
		require.Equal(t, http.StatusAccepted, s.clients[0].Must("POST", queuePath(course), nil).Status)
		time.Sleep(20 * time.Millisecond)
	}
	_, done := stale()
	// Takes the students over and grants 2 seats (ticks again if a grant
	// outran its budget on a loaded machine and was handed back).
	require.Eventually(t, func() bool {
		current.Admitter.Tick(ctx)
		return pollState(t, ss[0].clients[0], course) == "enrolled"
	}, 10*time.Second, 10*time.Millisecond, "the current admitter granted")
	require.Equal(t, http.StatusNoContent, ss[0].clients[0].Must("DELETE", fmt.Sprintf("/api/enrollments/%d", course), nil).Status)
	close(resume)
	<-done
	db, _ := c.dbEnrollments(course)
	_, regranted := db[ss[0].id]
	require.False(t, regranted, "the stale grant was refused: the student who cancelled has no seat")
	tickUntilFIFO := func(course int64, seats int, ss []*student, what string) {
		t.Helper()
		var err error
		for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
			current.Admitter.Tick(ctx)
			if err = c.checkFIFO(course, seats, ss); err == nil {
				return
			}
		}
		require.NoError(t, err, what)
	}
	tickUntilFIFO(course, 2, ss, "the freed seat went to the lowest full ticket")

	// The late completion.
	resume = make(chan struct{})
	course = c.course("STALE2", 1)
	ss = c.students("t", 3)
	for _, s := range ss {
		require.Equal(t, http.StatusAccepted, s.clients[0].Must("POST", queuePath(course), nil).Status)
		time.Sleep(20 * time.Millisecond)
	}
	_, done = stale()
	midB = func(b surge.Batch) {
		// The current admitter holds the lease; the stalled one wakes up,
		// grants (its token is still above the fence) and completes late.
		close(resume)
		<-done
		got, err := sh.Redis.Get(ctx, courseKeys(sh.Prefix, course)+"lease").Int64()
		require.NoError(t, err, "the live lease survived the stale completion")
		require.Equal(t, b.Token, got)
	}
	current.Admitter.Tick(ctx)
	require.Nil(t, midB, "the current admitter ran its batch")
	tickUntilFIFO(course, 1, ss, "FIFO after the stale completion")
}
