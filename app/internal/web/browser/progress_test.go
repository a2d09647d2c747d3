package browser

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/testenv"
)

// TestQueuedPageWaitsOnTheProgressCounter: at a rush, a student queued
// behind 300 others reads the course's progress counter while waiting and
// asks for its own state only once the counter reached its ticket. A proxy
// in front of the app counts what reaches it: one status request after the
// join (two at most, should the poll hint come due first), progress reads
// about once a second, each cacheable for a second, and the page ends
// enrolled soon after the admitter starts.
func TestQueuedPageWaitsOnTheProgressCounter(t *testing.T) {
	const ahead = 300
	s := newSite(t, testenv.AppOptions{NoAdmitter: true})
	cs := s.course("CS101", "Introduction to Programming", ahead+50, time.Now().Add(-time.Minute))
	nos := []string{"s7000"}
	for i := 1; i <= ahead; i++ {
		nos = append(nos, fmt.Sprintf("s7%03d", i))
	}
	s.students(nos...)
	queuePath := fmt.Sprintf("/api/courses/%d/queue", cs)
	progressPath := fmt.Sprintf("/api/courses/%d/progress", cs)
	for _, no := range nos[1:] {
		r := s.student(no).Must("POST", queuePath, nil)
		require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))
	}

	target, err := url.Parse(s.base)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var (
		mu       sync.Mutex
		counting bool
		joins    int
		statuses []string // the wait each status request asked for
		reads    int      // progress reads that reached the app
		caching  = map[string]bool{}
	)
	proxy.ModifyResponse = func(r *http.Response) error {
		if r.Request.URL.Path == progressPath {
			mu.Lock()
			caching[r.Header.Get("Cache-Control")] = true
			mu.Unlock()
		}
		return nil
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		switch {
		case r.URL.Path == queuePath && r.Method == http.MethodPost:
			joins++
		case !counting:
		case r.URL.Path == queuePath && r.Method == http.MethodGet:
			statuses = append(statuses, r.URL.Query().Get("wait"))
		case r.URL.Path == progressPath:
			reads++
		}
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	p := openPage(t, front.URL, desktop)
	p.signIn(nos[0])
	p.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#courses li[data-course="%d"] .join`, cs))))
	p.wait("queued behind the rush", textIs(qsel(cs, ".q-pos"), fmt.Sprintf("Position %d", ahead+1)), 15*time.Second)
	mu.Lock()
	counting = true
	mu.Unlock()

	// Nobody is admitted for a while: the page only reads the counter.
	const idle = 4 * time.Second
	time.Sleep(idle)
	mu.Lock()
	idleStatuses, idleReads := len(statuses), reads
	mu.Unlock()
	assert.Zero(t, idleStatuses, "no status request while the counter is below the ticket and the hint (about 8.5 s) is not due")
	assert.GreaterOrEqual(t, idleReads, 2, "the page reads the progress counter while it waits")
	assert.LessOrEqual(t, idleReads, int(idle/time.Second)+2, "about once a second")

	admitted := time.Now()
	s.runAdmitter()
	p.wait("enrolled", textIs(qsel(cs, ".q-pos"), "Enrolled"), 20*time.Second)
	t.Logf("enrolled %v after the admitter started", time.Since(admitted).Round(10*time.Millisecond))
	p.noFailureShown()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("reaching the app after the join: %d status %v, %d progress reads", len(statuses), statuses, reads)
	assert.Equal(t, 1, joins, "one join")
	assert.NotEmpty(t, statuses, "the page asked for its own state once its turn came")
	assert.LessOrEqual(t, len(statuses), 2, "status requests are few: the counter says when the turn may have come")
	for _, w := range statuses {
		assert.Equal(t, "20", w, "a status request waits at the server for the final state")
	}
	assert.Equal(t, map[string]bool{"public, max-age=1": true}, caching, "every progress answer is cacheable for a second")
	assert.True(t, strings.HasPrefix(p.eval(qsel(cs, ".q-msg")+".textContent"), "You have a seat in CS101"))
}
