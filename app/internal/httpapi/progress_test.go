package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/httpapi"
	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/testenv"
)

func progressPath(course any) string { return fmt.Sprintf("/api/courses/%v/progress", course) }

// progress reads the counter as an anonymous client and checks what every
// answer must carry: cacheable by anyone, nothing about a student.
func readProgress(t *testing.T, c *testenv.Client, course int64) (decidedThrough int64, seatsLeft int, err error) {
	r, err := c.Do("GET", progressPath(course), nil)
	if err != nil {
		return 0, 0, err
	}
	if r.Status != http.StatusOK {
		return 0, 0, fmt.Errorf("progress: %d %s", r.Status, r.Body)
	}
	if got := r.Header.Get("Cache-Control"); got != httpapi.ProgressCacheControl {
		return 0, 0, fmt.Errorf("progress: Cache-Control %q", got)
	}
	if r.Header.Get("Set-Cookie") != "" {
		return 0, 0, fmt.Errorf("progress sets a cookie")
	}
	m := r.JSON()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"asOf", "courseId", "decidedThrough", "seatsLeft"}) {
		return 0, 0, fmt.Errorf("progress fields %v", keys)
	}
	if _, err := time.Parse(time.RFC3339Nano, m["asOf"].(string)); err != nil {
		return 0, 0, fmt.Errorf("progress asOf: %w", err)
	}
	return int64(m["decidedThrough"].(float64)), int(m["seatsLeft"].(float64)), nil
}

// TestProgressNeverAhead: the progress counter never claims a ticket was
// decided before it was. During a rush with the admitter running, an
// observer reads the counter and then every student's own state: whenever
// the counter is at or above a student's ticket, that student is already
// enrolled, full or gone (states never go back to queued, so a state read
// after the counter can only be further along).
func TestProgressNeverAhead(t *testing.T) {
	const students, seats, leavers = 60, 15, 5
	// Small batches, each held a tenth of a second, and joins spread over
	// more than a second: the observer sees admission part way through many times.
	ao := testenv.AdmitterOptions(5*time.Second, func(context.Context, surge.Batch) error {
		time.Sleep(100 * time.Millisecond)
		return nil
	})
	ao.MaxBatch, ao.FullBatch = 8, 4
	f := newFixture(t, testenv.AppOptions{Admitter: ao})
	course := f.course("PR101", seats, past)
	nos := make([]string, students)
	for i := range nos {
		nos[i] = fmt.Sprintf("pr%03d", i)
	}
	f.students(nos...)
	clients := make([]*testenv.Client, students)
	for i, no := range nos {
		clients[i] = f.login(no)
	}
	anon := env.NewClient(t, f.app.HTTP.URL)

	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			<-start
			time.Sleep(time.Duration(i) * 20 * time.Millisecond)
			r, err := c.Do("POST", fmt.Sprintf("/api/courses/%d/queue", course), nil)
			if err != nil || r.Status >= 300 {
				t.Errorf("join %d: %v %d %s", i, err, r.Status, r.Body)
				return
			}
			if i < leavers { // some leave at once: "gone" is decided too
				if r, err := c.Do("DELETE", fmt.Sprintf("/api/courses/%d/queue", course), nil); err != nil ||
					(r.Status != http.StatusNoContent && r.Status != http.StatusNotFound) {
					t.Errorf("leave %d: %v %d %s", i, err, r.Status, r.Body)
				}
			}
		})
	}
	close(start)

	var checked, rounds, partial int
	var last int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		through, _, err := readProgress(t, anon, course)
		require.NoError(t, err)
		require.GreaterOrEqual(t, through, last, "the counter never goes back")
		last = through
		rounds++
		allFinal, decided := true, 0
		// Every student's state, read at once (after the counter).
		states := make([]testenv.Response, len(clients))
		errs := make([]error, len(clients))
		var rd sync.WaitGroup
		for i, c := range clients {
			rd.Go(func() { states[i], errs[i] = c.Do("GET", fmt.Sprintf("/api/courses/%d/queue", course), nil) })
		}
		rd.Wait()
		for i, r := range states {
			require.NoError(t, errs[i])
			require.Equal(t, http.StatusOK, r.Status, "status %d: %s", i, r.Body)
			m := r.JSON()
			state, _ := m["state"].(string)
			tk, _ := m["ticket"].(float64)
			if state == "queued" || state == "none" && i >= leavers {
				allFinal = false // not decided, or not joined yet
			}
			if tk == 0 || int64(tk) > through {
				continue
			}
			checked++
			decided++
			assert.Contains(t, []string{"enrolled", "full"}, state,
				"student %d: ticket %d counted as decided (through %d) but state %q", i, int64(tk), through, state)
		}
		if decided > 0 && !allFinal {
			partial++
		}
		if allFinal || time.Now().After(deadline) {
			break
		}
	}
	wg.Wait()
	t.Logf("%d reads of the counter (%d part way through), %d states checked against it", rounds, partial, checked)
	assert.Positive(t, partial, "the counter was read while admission was part way through")

	// Once everyone was decided the counter covers every ticket, and the
	// seats are all taken (the course list's staleness bound: 2 s).
	var maxTicket int64
	for _, c := range clients {
		r := c.Must("GET", fmt.Sprintf("/api/courses/%d/queue", course), nil)
		if tk, ok := r.JSON()["ticket"].(float64); ok {
			maxTicket = max(maxTicket, int64(tk))
		}
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		through, left, err := readProgress(t, anon, course)
		if assert.NoError(c, err) {
			assert.GreaterOrEqual(c, through, maxTicket, "every ticket decided")
			assert.Zero(c, left, "seats left")
		}
	}, 5*time.Second, 50*time.Millisecond)
}

// TestProgressCases: an empty course, a course where everyone was decided,
// and the refusals.
func TestProgressCases(t *testing.T) {
	f := newFixture(t, testenv.AppOptions{NoAdmitter: true})
	empty := f.course("PR201", 3, past)
	f.students("pr201")
	s := f.login("pr201")
	anon := env.NewClient(t, f.app.HTTP.URL)

	t.Run("empty course", func(t *testing.T) {
		through, left, err := readProgress(t, anon, empty)
		require.NoError(t, err)
		assert.Equal(t, 3, left, "seats left")
		// A student joining now gets a ticket the counter has not reached.
		r := s.Must("POST", fmt.Sprintf("/api/courses/%d/queue", empty), nil)
		require.Equal(t, http.StatusAccepted, r.Status, "join: %s", r.Body)
		tk := int64(r.JSON()["ticket"].(float64))
		assert.Less(t, through, tk, "a new ticket is not decided")
		after, _, err := readProgress(t, anon, empty)
		require.NoError(t, err)
		assert.Less(t, after, tk, "a queued ticket is not decided")
	})

	t.Run("everyone decided", func(t *testing.T) {
		require.True(t, f.app.Admitter.Tick(t.Context()), "the admitter granted")
		waitState(t, s, empty, "enrolled")
		r := s.Must("GET", fmt.Sprintf("/api/courses/%d/queue", empty), nil)
		tk := int64(r.JSON()["ticket"].(float64))
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			through, left, err := readProgress(t, anon, empty)
			if assert.NoError(c, err) {
				assert.GreaterOrEqual(c, through, tk, "the enrolled ticket is decided")
				assert.Equal(c, 2, left, "seats left")
			}
		}, 5*time.Second, 50*time.Millisecond)
	})

	tests := []struct {
		name   string
		path   string
		status int
		code   string
	}{
		{"unknown course", progressPath(999999), http.StatusNotFound, "not_found"},
		{"not a number", progressPath("abc"), http.StatusNotFound, "not_found"},
		{"zero", progressPath(0), http.StatusNotFound, "not_found"},
		{"negative", progressPath(-1), http.StatusNotFound, "not_found"},
		{"too long", progressPath("99999999999999999999"), http.StatusNotFound, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := anon.Must("GET", tt.path, nil)
			assertError(t, r, tt.status, tt.code, tt.name)
			// CloudFront honours no-store on a 404 (and on 410, 414, 501),
			// not on a 400: a malformed id answers 404 like an unknown one.
			// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/custom-error-pages-expiration.html
			assert.Equal(t, "no-store", r.Header.Get("Cache-Control"), "errors are not cached")
		})
	}
}
