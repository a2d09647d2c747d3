package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/admitter"
	"github.com/surge-dev/surge/app/internal/httpapi"
	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/testenv"
	"github.com/surge-dev/surge/app/internal/waitroom"
)

// longPoll is one app without a running admitter (the test grants by
// running it once) whose metrics the test reads.
type longPoll struct {
	*fixture
	sh  testenv.Shared
	reg *prometheus.Registry
}

func newLongPoll(t *testing.T, maxWait time.Duration, maxWaiters int) *longPoll {
	return newLongPollWith(t, func(d *httpapi.Deps) {
		d.MaxWait = maxWait
		d.MaxWaiters = maxWaiters
	})
}

// newLongPollWith is newLongPoll with the app's dependencies set by deps.
func newLongPollWith(t *testing.T, deps func(d *httpapi.Deps)) *longPoll {
	t.Helper()
	reg := prometheus.NewRegistry()
	sh := env.NewShared(t)
	app := env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, Deps: func(d *httpapi.Deps) {
		d.Registerer = reg
		deps(d)
	}})
	return &longPoll{fixture: &fixture{t: t, app: app, admin: env.NewClient(t, app.HTTP.URL)}, sh: sh, reg: reg}
}

// parkJoins makes n+extra students (numbered prefix0...), signs the first n
// in and has each join the course asking for a 4 s wait, and waits until
// all n are parked and queued. It returns every student number and the n
// pending answers.
func (l *longPoll) parkJoins(course int64, prefix string, n, extra int) ([]string, []<-chan answer) {
	l.t.Helper()
	path := fmt.Sprintf("/api/courses/%d/queue", course)
	var nos []string
	for i := range n + extra {
		nos = append(nos, prefix+strconv.Itoa(i))
	}
	l.students(nos...)
	var waiting []<-chan answer
	for _, no := range nos[:n] {
		waiting = append(waiting, l.send(l.login(no), "POST", path+"?wait=4"))
	}
	l.awaitWaiters(n)
	l.awaitQueued(course, int64(n))
	return nos, waiting
}

// metric reads a counter or gauge of the app's registry.
func (l *longPoll) metric(name string) float64 {
	l.t.Helper()
	fams, err := l.reg.Gather()
	require.NoError(l.t, err)
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// awaitWaiters waits until n requests are waiting in the app.
func (l *longPoll) awaitWaiters(n int) {
	l.t.Helper()
	require.Eventually(l.t, func() bool { return l.metric("surge_waiters") == float64(n) }, 5*time.Second, time.Millisecond,
		"%d waiters", n)
}

// awaitQueued waits until n students are queued in the course (a join
// registers its waiter before it queues the student).
func (l *longPoll) awaitQueued(course int64, n int64) {
	l.t.Helper()
	require.Eventually(l.t, func() bool {
		got, err := l.app.Room.Queued(context.Background(), []int64{course})
		return err == nil && got == n
	}, 5*time.Second, time.Millisecond, "%d queued", n)
}

// answer is a response with the time it arrived.
type answer struct {
	r  testenv.Response
	at time.Time
}

func (l *longPoll) send(c *testenv.Client, method, path string, headers ...string) <-chan answer {
	out := make(chan answer, 1)
	go func() {
		r, err := c.Do(method, path, nil, headers...)
		if err != nil {
			l.t.Errorf("%s %s: %v", method, path, err)
		}
		out <- answer{r: r, at: time.Now()}
	}()
	return out
}

// progressSeen subscribes to the course's progress as another instance
// would, and reports when each message arrived.
func progressSeen(t *testing.T, sh testenv.Shared, course int64) <-chan time.Time {
	t.Helper()
	room := waitroom.New(sh.Redis, sh.Prefix, nil)
	feed := room.Feed(context.Background())
	t.Cleanup(func() { _ = feed.Close() })
	require.NoError(t, feed.Watch(context.Background(), course))
	out := make(chan time.Time, 16)
	go func() {
		for p := range feed.Progress() {
			if p.Course == course {
				out <- time.Now()
			}
		}
	}()
	return out
}

// TestWaiterAnsweredWithinFiftyMsOfGrant: a student waiting in a join or a
// status request gets the final state within 50 ms of the admitter's
// publication of the batch that granted it, whichever way the wait is asked
// for.
func TestWaiterAnsweredWithinFiftyMsOfGrant(t *testing.T) {
	cases := []struct {
		name    string
		method  string
		query   string
		headers []string
		join    bool // the waiting request is the join itself
	}{
		{name: "status, wait parameter", method: "GET", query: "?wait=4"},
		{name: "status, Prefer header", method: "GET", headers: []string{"Prefer", "wait=4"}},
		{name: "join, wait parameter", method: "POST", query: "?wait=4", join: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLongPoll(t, 4*time.Second, 100)
			id := l.course("LP101", 5, past)
			l.students("s1")
			c := l.login("s1")
			path := fmt.Sprintf("/api/courses/%d/queue", id)
			if !tc.join {
				require.Equal(t, http.StatusAccepted, c.Must("POST", path, nil).Status)
			}
			seen := progressSeen(t, l.sh, id)
			got := l.send(c, tc.method, path+tc.query, tc.headers...)
			l.awaitWaiters(1)
			l.awaitQueued(id, 1)

			tick := time.Now()
			require.True(t, l.app.Admitter.Tick(context.Background()), "the admitter granted")
			var published time.Time
			select {
			case published = <-seen:
			case <-time.After(5 * time.Second):
				t.Fatal("no progress published")
			}
			a := <-got
			require.Equal(t, http.StatusOK, a.r.Status, "%s", a.r.Body)
			assert.Equal(t, "enrolled", a.r.JSON()["state"])
			assert.NotContains(t, a.r.JSON(), "pollAfterMs", "a final answer has no poll hint")
			lag := a.at.Sub(published)
			t.Logf("answered %s after the publication (%s after the admitter started the batch)", lag, a.at.Sub(tick))
			assert.Less(t, lag, 50*time.Millisecond, "answered within 50 ms of the grant's publication")
			assert.Zero(t, l.metric("surge_waiters"), "the waiter is gone")
			assert.GreaterOrEqual(t, l.metric("surge_waiter_wakeups_total"), 1.0)
		})
	}
}

// TestWaitEndsWithPosition: without progress the wait ends at its deadline
// (capped by MaxWait) with the current position and a poll hint, also when
// the batch that decided the student was never published (a lost message).
func TestWaitEndsWithPosition(t *testing.T) {
	const maxWait = 700 * time.Millisecond
	cases := []struct {
		name  string
		grant bool // the admitter grants, but its publication is lost
		want  string
	}{
		{name: "no progress", want: "queued"},
		{name: "progress lost", grant: true, want: "enrolled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLongPoll(t, maxWait, 100)
			id := l.course("LP102", 1, past)
			l.students("s1", "s2")
			path := fmt.Sprintf("/api/courses/%d/queue", id)
			for _, s := range []string{"s1", "s2"} {
				require.Equal(t, http.StatusAccepted, l.login(s).Must("POST", path, nil).Status)
			}
			c := l.login("s1")
			start := time.Now()
			got := l.send(c, "GET", path+"?wait=30")
			l.awaitWaiters(1)
			if tc.grant {
				// Another instance's admitter whose publications never arrive.
				store := l.app.Store
				adm := admitter.New(silentRoom{waitroom.New(l.sh.Redis, l.sh.Prefix, store)}, store, admitter.Options{})
				require.True(t, adm.Tick(context.Background()))
			}
			a := <-got
			took := a.at.Sub(start)
			t.Logf("answered after %s", took)
			assert.GreaterOrEqual(t, took, maxWait-50*time.Millisecond, "waited until the deadline")
			assert.Less(t, took, maxWait+time.Second, "the wait was capped by MaxWait")
			require.Equal(t, http.StatusOK, a.r.Status, "%s", a.r.Body)
			m := a.r.JSON()
			assert.Equal(t, tc.want, m["state"])
			if tc.want == "queued" {
				assert.EqualValues(t, 1, m["position"])
				assert.EqualValues(t, 1025, m["pollAfterMs"], "no rate measured yet: 1 s + 25 ms per place")
				assert.Equal(t, "2", a.r.Header.Get("Retry-After"))
			}
		})
	}
}

// silentRoom is a waiting room whose progress messages are lost.
type silentRoom struct{ *waitroom.Room }

func (silentRoom) Publish(context.Context, surge.Progress) error { return nil }

// TestWaiterBound: past MaxWaiters a request answers at once with its
// position and a hint of at least a second; it is not an error.
func TestWaiterBound(t *testing.T) {
	const bound = 3
	l := newLongPoll(t, 4*time.Second, bound)
	id := l.course("LP103", 1, past)
	path := fmt.Sprintf("/api/courses/%d/queue", id)
	nos, waiting := l.parkJoins(id, "s", bound, 1)

	start := time.Now()
	r := l.login(nos[bound]).Must("POST", path+"?wait=4", nil)
	took := time.Since(start)
	t.Logf("waiter %d answered in %s", bound+1, took)
	assert.Less(t, took, time.Second, "answered at once past the bound")
	require.Equal(t, http.StatusAccepted, r.Status, "%s", r.Body)
	m := r.JSON()
	assert.Equal(t, "queued", m["state"])
	assert.EqualValues(t, bound+1, m["position"])
	assert.GreaterOrEqual(t, m["pollAfterMs"], 1000.0, "an answer that did not wait asks for at least a second")
	assert.Equal(t, 1.0, l.metric("surge_waiter_bound_total"))
	assert.Equal(t, float64(bound), l.metric("surge_waiters"), "the others still wait")

	// The waiters are still answered when their students are decided.
	require.True(t, l.app.Admitter.Tick(context.Background()))
	states := map[string]int{}
	for _, w := range waiting {
		a := <-w
		states[fmt.Sprint(a.r.JSON()["state"])]++
	}
	assert.Equal(t, map[string]int{"enrolled": 1, "full": bound - 1}, states)
}

// TestParkedRequestsHoldNoSlot: a request parked in the waiting room gives
// its in-flight slot back, so more students wait than MaxInflight allows in
// flight, other requests are still served, and every parked request takes a
// slot again to read its final state when woken.
func TestParkedRequestsHoldNoSlot(t *testing.T) {
	const inflight, parked = 2, 5
	l := newLongPollWith(t, func(d *httpapi.Deps) {
		d.MaxWait = 4 * time.Second
		d.MaxWaiters = 100
		d.MaxInflight = inflight
		d.OverloadWait = 2 * time.Second // the woken requests queue for the two slots
	})
	id := l.course("LP106", 2, past)
	nos, waiting := l.parkJoins(id, "p", parked, 1)
	// A join gives its slot back just after its student is queued.
	require.Eventually(t, func() bool { return l.metric("surge_http_inflight_requests") == 0 }, 2*time.Second, time.Millisecond,
		"parked requests hold no slot")

	other := l.login(nos[parked])
	for range 3 {
		start := time.Now()
		r := other.Must("GET", "/api/courses", nil)
		assert.Equal(t, http.StatusOK, r.Status, "served while %d wait with %d slots: %s", parked, inflight, r.Body)
		assert.Less(t, time.Since(start), time.Second, "a slot was free at once")
	}

	require.True(t, l.app.Admitter.Tick(context.Background()), "the admitter decided them")
	states := map[string]int{}
	for _, w := range waiting {
		select {
		case a := <-w:
			assert.Equal(t, http.StatusOK, a.r.Status, "%s", a.r.Body)
			states[fmt.Sprint(a.r.JSON()["state"])]++
		case <-time.After(3 * time.Second):
			t.Fatal("a parked request was not answered after the batch")
		}
	}
	assert.Equal(t, map[string]int{"enrolled": 2, "full": parked - 2}, states, "each read its final state")
	assert.Zero(t, l.metric("surge_http_inflight_requests"), "every slot given back")
	assert.Zero(t, l.metric("surge_http_shed_total"), "nobody was refused")
}

// TestDrainAnswersWaiters: when draining starts every waiting request
// answers at once with its state, long before the drain time.
func TestDrainAnswersWaiters(t *testing.T) {
	const n = 5
	l := newLongPoll(t, 4*time.Second, 100)
	id := l.course("LP104", 1, past)
	path := fmt.Sprintf("/api/courses/%d/queue", id)
	var nos []string
	for i := range n {
		nos = append(nos, "s"+strconv.Itoa(i))
	}
	l.students(nos...)
	var waiting []<-chan answer
	var first *testenv.Client
	for _, no := range nos {
		c := l.login(no)
		first = c
		waiting = append(waiting, l.send(c, "POST", path+"?wait=4"))
	}
	l.awaitWaiters(n)
	l.awaitQueued(id, n)

	start := time.Now()
	l.app.Server.Drain()
	var wg sync.WaitGroup
	positions := map[float64]bool{}
	var mu sync.Mutex
	for _, w := range waiting {
		wg.Go(func() {
			a := <-w
			assert.Less(t, a.at.Sub(start), time.Second, "answered at once, not after the 4 s wait")
			assert.Equal(t, http.StatusAccepted, a.r.Status, "%s", a.r.Body)
			m := a.r.JSON()
			assert.Equal(t, "queued", m["state"])
			assert.GreaterOrEqual(t, m["pollAfterMs"], 1000.0)
			mu.Lock()
			positions[m["position"].(float64)] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("%d waiters answered within %s of the drain", n, time.Since(start))
	assert.Len(t, positions, n, "each with its own position")
	assert.Zero(t, l.metric("surge_waiters"))
	assertError(t, first.Must("GET", path+"?wait=4", nil), http.StatusServiceUnavailable, "draining", "a new request while draining")
}

// TestJoinKnownFullAnswersFull: once a course has a waiting list and no
// seat was freed, a join answers full at once (no wait, no admitter); after
// a cancellation frees a seat, joins queue again and the seat goes to the
// lowest waiting-list ticket.
func TestJoinKnownFullAnswersFull(t *testing.T) {
	l := newLongPoll(t, 4*time.Second, 100)
	id := l.course("LP105", 1, past)
	path := fmt.Sprintf("/api/courses/%d/queue", id)
	l.students("s1", "s2", "s3", "s4")
	c := map[string]*testenv.Client{}
	for _, no := range []string{"s1", "s2", "s3", "s4"} {
		c[no] = l.login(no)
	}
	require.Equal(t, http.StatusAccepted, c["s1"].Must("POST", path, nil).Status)
	require.Equal(t, http.StatusAccepted, c["s2"].Must("POST", path, nil).Status)
	require.True(t, l.app.Admitter.Tick(context.Background()))
	assert.Equal(t, "enrolled", c["s1"].Must("GET", path, nil).JSON()["state"])
	assert.Equal(t, "full", c["s2"].Must("GET", path, nil).JSON()["state"])

	r := c["s3"].Must("POST", path+"?wait=4", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	assert.Equal(t, "full", r.JSON()["state"], "known full: on the waiting list at once")
	assert.NotZero(t, r.JSON()["ticket"])

	require.Equal(t, http.StatusNoContent, c["s1"].Must("DELETE", fmt.Sprintf("/api/enrollments/%d", id), nil).Status)
	r = c["s4"].Must("POST", path, nil)
	assert.Equal(t, http.StatusAccepted, r.Status, "a seat may be free: queued as usual (%s)", r.Body)
	for l.app.Admitter.Tick(context.Background()) {
	}
	assert.Equal(t, "enrolled", c["s2"].Must("GET", path, nil).JSON()["state"], "the freed seat goes to the lowest waiting ticket")
	assert.Equal(t, "full", c["s3"].Must("GET", path, nil).JSON()["state"])
	assert.Equal(t, "full", c["s4"].Must("GET", path, nil).JSON()["state"])
}

// TestBadWaitIsRefused: a wait parameter that is not a non-negative number
// is a 400 with a JSON error, for join and status alike.
func TestBadWaitIsRefused(t *testing.T) {
	l := newLongPoll(t, 4*time.Second, 100)
	id := l.course("LP106", 5, past)
	l.students("s1")
	c := l.login("s1")
	path := fmt.Sprintf("/api/courses/%d/queue", id)
	for _, method := range []string{"POST", "GET"} {
		for _, q := range []string{"abc", "-1", "NaN", "1e999"} {
			assertError(t, c.Must(method, path+"?wait="+q, nil), http.StatusBadRequest, "invalid_request", method+" wait="+q)
		}
	}
	r := c.Must("POST", path, nil, "Prefer", "wait=soon")
	assert.Equal(t, http.StatusAccepted, r.Status, "an unreadable preference is ignored: %s", r.Body)
}
