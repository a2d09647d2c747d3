package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/testenv"
)

// loadStats collects what clients saw while a dependency was down.
type loadStats struct {
	mu         sync.Mutex
	codes      map[int]int
	noRetry    int
	errs       []error
	maxLatency time.Duration
	bad        []string
}

func (l *loadStats) record(method, path string, r testenv.Response, err error, took time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.maxLatency = max(l.maxLatency, took)
	if err != nil {
		l.errs = append(l.errs, fmt.Errorf("%s %s: %w", method, path, err))
		return
	}
	l.codes[r.Status]++
	if r.Status == http.StatusServiceUnavailable && r.Header.Get("Retry-After") == "" {
		l.noRetry++
	}
	if r.Status >= 500 && r.Status != http.StatusServiceUnavailable {
		l.bad = append(l.bad, fmt.Sprintf("%s %s -> %d %s", method, path, r.Status, r.Body))
	}
}

// load sends a mix of student requests to random instances until ctx ends.
func (c *cluster) load(ctx context.Context, course int64, ss []*student, workers int) *loadStats {
	l := &loadStats{codes: map[int]int{}}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			for ctx.Err() == nil {
				s := ss[rng.IntN(len(ss))]
				cl := s.clients[rng.IntN(len(s.clients))]
				method, path := "GET", queuePath(course)
				switch rng.IntN(5) {
				case 0:
					method = "POST"
				case 1:
					path = "/api/courses"
				case 2:
					path = "/api/enrollments"
				}
				start := time.Now()
				r, err := cl.Do(method, path, nil)
				l.record(method, path, r, err, time.Since(start))
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	go func() {
		<-ctx.Done()
		wg.Wait()
		l.mu.Lock()
		l.codes[-1] = 1 // marks "done"
		l.mu.Unlock()
	}()
	return l
}

func (l *loadStats) wait() {
	for {
		l.mu.Lock()
		done := l.codes[-1] == 1
		l.mu.Unlock()
		if done {
			delete(l.codes, -1)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// assertFailFast: during an outage requests answer 503 with Retry-After,
// never 500, never hang (invariant 5).
func (l *loadStats) assertFailFast(t *testing.T, what string) {
	t.Helper()
	t.Logf("%s: status codes %v, max latency %s", what, l.codes, l.maxLatency)
	assert.Empty(t, l.errs, "%s: transport errors (hangs/timeouts)", what)
	assert.Empty(t, l.bad, "%s: 5xx other than 503", what)
	assert.Zero(t, l.noRetry, "%s: 503 without Retry-After", what)
	assert.Positive(t, l.codes[http.StatusServiceUnavailable], "%s: the outage was visible as 503", what)
	assert.Less(t, l.maxLatency, 3*time.Second, "%s: requests fail fast", what)
}

func (c *cluster) waitReady(t *testing.T) {
	t.Helper()
	for _, a := range c.apps {
		cl := env.NewClient(t, a.HTTP.URL)
		require.Eventually(t, func() bool { return cl.Must("GET", "/readyz", nil).Status == http.StatusOK },
			20*time.Second, 50*time.Millisecond, "readyz after recovery")
	}
}

// waitProcessed waits until no student of ss is queued (after joining).
func (c *cluster) waitProcessed(t *testing.T, course int64, ss []*student) map[int64]state {
	t.Helper()
	var sts map[int64]state
	require.Eventually(t, func() bool {
		var err error
		sts, err = c.states(course, ss)
		if err != nil {
			return false
		}
		for _, st := range sts {
			if st.State == "queued" {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "all students processed")
	return sts
}

func (c *cluster) joinAll(t *testing.T, course int64, ss []*student) map[int64]int64 {
	t.Helper()
	var mu sync.Mutex
	tickets := map[int64]int64{}
	parallel(len(ss), 32, func(i int) {
		r := ss[i].clients[i%len(c.apps)].Must("POST", queuePath(course), nil)
		if assert.Contains(t, []int{http.StatusAccepted, http.StatusOK}, r.Status, "join: %s", r.Body) {
			if tk, ok := r.JSON()["ticket"].(float64); ok {
				mu.Lock()
				tickets[ss[i].id] = int64(tk)
				mu.Unlock()
			}
		}
	})
	return tickets
}

// TestRedisRestartUnderLoad: Redis restarts and loses everything while
// students poll and join. Requests fail fast with 503 + Retry-After, the app
// recovers by itself, sessions are gone (401, sign in again), committed
// enrollments are not, and tickets keep increasing across the restart.
func TestRedisRestartUnderLoad(t *testing.T) {
	const n, seats = 90, 30
	c := newCluster(t, 3, testenv.AppOptions{})
	course := c.course("REDIS", seats)
	ss := c.students("x", n)
	before := c.joinAll(t, course, ss[:45])
	c.waitProcessed(t, course, ss[:45])
	enrolledBefore, _ := c.dbEnrollments(course)
	require.Len(t, enrolledBefore, seats, "seats granted before the restart")
	var maxBefore int64
	for _, tk := range before {
		maxBefore = max(maxBefore, tk)
	}

	ctx, stop := context.WithCancel(context.Background())
	l := c.load(ctx, course, ss, 8)
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, env.Redis.Stop(context.Background()))
	time.Sleep(1500 * time.Millisecond)
	require.NoError(t, env.Redis.Start(context.Background()))
	c.waitReady(t)
	time.Sleep(300 * time.Millisecond)
	stop()
	l.wait()
	l.assertFailFast(t, "redis restart")

	// Sessions were lost: 401, sign in again, join again.
	r := ss[0].clients[0].Must("GET", "/api/enrollments", nil)
	assert.Equal(t, http.StatusUnauthorized, r.Status, "session lost with Redis")
	for _, s := range ss {
		require.True(t, s.login(t), "login again")
	}
	after := c.joinAll(t, course, ss)
	for sid, tk := range after {
		assert.Greater(t, tk, maxBefore, "ticket of %d after the restart is above every ticket before", sid)
	}
	sts := c.waitProcessed(t, course, ss)
	db, counter := c.dbEnrollments(course)
	assert.Equal(t, enrolledBefore, db, "committed enrollments survive, no new seats (course was full)")
	assert.Equal(t, seats, counter, "courses.enrolled")
	for _, s := range ss {
		_, inDB := db[s.id]
		want := "full"
		if inDB {
			want = "enrolled"
		}
		assert.Equal(t, want, sts[s.id].State, "state of %d after re-joining", s.id)
	}
}

// TestPostgresRestartUnderLoad: PostgreSQL restarts while students poll and
// join. Joining and polling keep working from Redis while the cached course
// lasts, everything else answers 503 + Retry-After at once; afterwards the
// admitter resumes and FIFO holds as if nothing happened.
func TestPostgresRestartUnderLoad(t *testing.T) {
	const n, seats = 120, 40
	c := newCluster(t, 3, testenv.AppOptions{})
	course := c.course("PG", seats)
	ss := c.students("p", n)
	c.joinAll(t, course, ss[:30])
	c.waitProcessed(t, course, ss[:30])

	ctx, stop := context.WithCancel(context.Background())
	l := c.load(ctx, course, ss, 8)
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, env.PG.Stop(context.Background()))
	time.Sleep(2500 * time.Millisecond)
	require.NoError(t, env.PG.Start(context.Background()))
	c.waitReady(t)
	time.Sleep(300 * time.Millisecond)
	stop()
	l.wait()
	l.assertFailFast(t, "postgres restart")

	c.joinAll(t, course, ss)
	c.waitProcessed(t, course, ss)
	require.NoError(t, c.waitFIFO(course, seats, ss, 10*time.Second), "FIFO after the database came back")
}
