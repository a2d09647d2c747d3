package browser

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/testenv"
)

// UpdateScreenshotsEnv set to 1 makes the flow test rewrite the README's
// screenshots in docs/screenshots.
const UpdateScreenshotsEnv = "SURGE_UPDATE_SCREENSHOTS"

const password = "correct-horse-battery"

type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

var (
	desktop = viewport{"desktop", 1280, 800, false}
	phone   = viewport{"phone", 390, 844, true}
)

// site is one app on its own database and Redis prefix, with an admin
// client to set it up.
type site struct {
	t     *testing.T
	app   *testenv.App
	admin *testenv.Client
	base  string
}

func newSite(t *testing.T, o testenv.AppOptions) *site {
	t.Helper()
	if o.Admitter.Interval == 0 {
		o.Admitter = testenv.AdmitterOptions(2*time.Second, nil)
	}
	app := env.NewApp(t, env.NewShared(t), o)
	s := &site{t: t, app: app, base: app.HTTP.URL}
	s.admin = env.NewClient(t, s.base)
	return s
}

func (s *site) course(code, title string, capacity int, opensAt time.Time) int64 {
	s.t.Helper()
	r := s.admin.Admin("POST", "/api/admin/courses", map[string]any{
		"code": code, "title": title, "capacity": capacity, "opensAt": opensAt.UTC().Format(time.RFC3339)})
	require.Equal(s.t, http.StatusCreated, r.Status, string(r.Body))
	return int64(r.JSON()["id"].(float64))
}

func (s *site) students(nos ...string) {
	s.t.Helper()
	var in []map[string]string
	for _, no := range nos {
		in = append(in, map[string]string{"studentNo": no, "name": "Student " + no, "password": password})
	}
	r := s.admin.Admin("POST", "/api/admin/students", in)
	require.Equal(s.t, http.StatusCreated, r.Status, string(r.Body))
}

// student is a signed-in API client (another student at the rush).
func (s *site) student(no string) *testenv.Client {
	s.t.Helper()
	c := env.NewClient(s.t, s.base)
	r := c.Must("POST", "/api/login", map[string]string{"studentNo": no, "password": password})
	require.Equal(s.t, http.StatusOK, r.Status, string(r.Body))
	return c
}

func (s *site) runAdmitter() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.app.Admitter.Run(ctx) })
	s.t.Cleanup(func() { cancel(); wg.Wait() })
}

// page is one student's browser tab with its own cookies and storage.
type page struct {
	t   *testing.T
	ctx context.Context
	vp  viewport
}

func openPage(t *testing.T, base string, vp viewport) *page {
	t.Helper()
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	t.Cleanup(cancel)
	tab, cancelTab := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancelTab)
	p := &page{t: t, ctx: tab, vp: vp}
	opts := []chromedp.EmulateViewportOption{}
	if vp.mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	p.do(chromedp.EmulateViewport(vp.width, vp.height, opts...), chromedp.Navigate(base+"/"))
	t.Cleanup(func() {
		if t.Failed() {
			txt, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Logf("page text at failure:\n%s", txt)
		}
	})
	return p
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	require.NoError(p.t, chromedp.Do(p.ctx, actions...))
}

// wait polls a JavaScript predicate until it is true.
func (p *page) wait(what, expr string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](expr,
			chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(50*time.Millisecond)))
		// A navigation replaces the page's JavaScript context under a poll
		// in progress: poll again in the new one.
		if err != nil && strings.Contains(err.Error(), "Cannot find context with specified id") && time.Now().Before(deadline) {
			continue
		}
		require.NoError(p.t, err, "waiting for %s (%s)", what, expr)
		return
	}
}

func (p *page) eval(expr string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr))
	require.NoError(p.t, err, expr)
	return v
}

func (p *page) js(expr string) bool {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](expr))
	require.NoError(p.t, err, expr)
	return v
}

// signIn uses the keyboard only: type, Tab, type, Enter.
func (p *page) signIn(studentNo string) {
	p.t.Helper()
	p.wait("the sign-in form", `!document.getElementById("signin").hidden`, 20*time.Second)
	p.do(chromedp.Focus(chromedp.CSS("#studentNo")),
		chromedp.KeyEvent(studentNo), chromedp.KeyEvent("\t"), chromedp.KeyEvent(password), chromedp.KeyEvent("\r"))
	p.wait("the course list", `document.querySelectorAll("#courses li").length > 0`, 20*time.Second)
}

func (p *page) screenshot(name string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	require.NoError(p.t, err)
	require.Greater(p.t, len(png), 1000, "a real picture")
	if os.Getenv(UpdateScreenshotsEnv) != "1" {
		return
	}
	dir := filepath.Join("..", "..", "..", "..", "docs", "screenshots")
	require.NoError(p.t, os.MkdirAll(dir, 0o755))
	require.NoError(p.t, os.WriteFile(filepath.Join(dir, name+"-"+p.vp.name+".png"), png, 0o644))
}

// noHorizontalScroll: nothing is wider than the viewport (the phone case).
func (p *page) noHorizontalScroll() {
	p.t.Helper()
	assert.True(p.t, p.js(`document.documentElement.scrollWidth <= window.innerWidth`),
		"page wider than %d px: %s", p.vp.width, p.eval(`String(document.documentElement.scrollWidth)`))
}

func (p *page) noFailureShown() {
	p.t.Helper()
	assert.True(p.t, p.js(`document.getElementById("alert").hidden`), "error shown: %s", p.eval(`document.getElementById("alert").textContent`))
}

func qsel(id int64, part string) string {
	return fmt.Sprintf(`document.querySelector('#queues li[data-course="%d"] %s')`, id, part)
}

func rowSel(id int64, part string) string {
	return fmt.Sprintf(`document.querySelector('#courses li[data-course="%d"] %s')`, id, part)
}

func textIs(sel, want string) string {
	return fmt.Sprintf(`(%s||{}).textContent === %q`, sel, want)
}

// TestJoinWatchPositionEnrollAndCancel: a student signs in with the
// keyboard, joins the first course, watches the position fall as students
// ahead leave and are admitted, ends enrolled, then cancels the seat. At
// desktop and phone sizes; the screenshots of the README come from here.
func TestJoinWatchPositionEnrollAndCancel(t *testing.T) {
	for _, vp := range []viewport{desktop, phone} {
		t.Run(vp.name, func(t *testing.T) {
			s := newSite(t, testenv.AppOptions{NoAdmitter: true})
			cs := s.course("CS101", "Introduction to Programming", 120, time.Now().Add(-time.Minute))
			s.course("MATH201", "Linear Algebra", 80, time.Now().Add(2*time.Hour+5*time.Minute))
			s.course("ART105", "Drawing Studio", 12, time.Now().Add(-time.Hour))
			s.students("s1001", "s1002", "s1003", "s1004")
			var ahead []*testenv.Client
			for _, no := range []string{"s1002", "s1003", "s1004"} {
				c := s.student(no)
				r := c.Must("POST", fmt.Sprintf("/api/courses/%d/queue", cs), nil)
				require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))
				ahead = append(ahead, c)
			}

			p := openPage(t, s.base, vp)
			p.signIn("s1001")
			p.wait("the countdown of the course not open yet", rowSel(2, ".badge")+`.textContent.startsWith("Opens in 2:0")`, 5*time.Second)
			assert.True(t, p.js(rowSel(2, ".join")+".disabled"), "no joining before the opening")
			assert.Equal(t, "120 of 120 seats left", p.eval(rowSel(cs, ".seats")+".textContent"))
			p.noHorizontalScroll()
			p.screenshot("courses")

			// Keyboard: the heading has the focus after sign-in; Tab reaches
			// the first course's Join button, Enter presses it.
			p.do(chromedp.KeyEvent("\t"))
			assert.Equal(t, "Join: CS101", p.eval(`document.activeElement.getAttribute("aria-label")`))
			p.do(chromedp.KeyEvent("\r"))
			p.wait("position 4", textIs(qsel(cs, ".q-pos"), "Position 4"), 10*time.Second)
			assert.Equal(t, "queues-h", p.eval(`document.activeElement.id`), "the focus follows to the queue")
			assert.Equal(t, "3 students ahead of you. Keep this page open; it updates by itself.", p.eval(qsel(cs, ".q-msg")+".textContent"))
			assert.Equal(t, "polite", p.eval(`document.getElementById("queues").getAttribute("aria-live")`))
			assert.True(t, p.js(rowSel(cs, ".join")+".disabled"), "no second join while queued")
			p.noHorizontalScroll()
			p.screenshot("queue")

			r := ahead[0].Must("DELETE", fmt.Sprintf("/api/courses/%d/queue", cs), nil)
			require.Equal(t, http.StatusNoContent, r.Status)
			p.wait("position 3", textIs(qsel(cs, ".q-pos"), "Position 3"), 10*time.Second)

			s.runAdmitter()
			p.wait("enrolled", textIs(qsel(cs, ".q-pos"), "Enrolled"), 20*time.Second)
			p.wait("the enrollment listed", `document.querySelector('#enrollments li[data-course="`+fmt.Sprint(cs)+`"]') !== null`, 10*time.Second)
			p.wait("the course row says enrolled", textIs(rowSel(cs, ".join"), "Enrolled"), 10*time.Second)
			p.noFailureShown()
			p.noHorizontalScroll()
			p.screenshot("enrolled")

			// Cancel: asks once in the page, then the list is empty.
			p.do(chromedp.Click(chromedp.CSS(`#enrollments li .cancel`)))
			p.wait("the confirmation has the focus", `document.activeElement.textContent === "Keep my seat"`, 5*time.Second)
			p.do(chromedp.Click(chromedp.CSS(`#enrollments li .yes`)))
			p.wait("no enrollment left", `!document.getElementById("enr-empty").hidden`, 10*time.Second)
			p.wait("the course can be joined again", textIs(rowSel(cs, ".join"), "Join"), 10*time.Second)
			p.noFailureShown()
			r = ahead[1].Must("GET", "/api/enrollments", nil)
			require.Equal(t, http.StatusOK, r.Status)
		})
	}
}

// TestFullCourseAndWaitingList: the last seat is gone, the course says
// so, joining puts the student on the waiting list, and a cancelled seat
// comes to them.
func TestFullCourseAndWaitingList(t *testing.T) {
	s := newSite(t, testenv.AppOptions{})
	cs := s.course("LAB300", "Advanced Lab", 1, time.Now().Add(-time.Minute))
	s.students("s2001", "s2002")
	other := s.student("s2002")
	r := other.Must("POST", fmt.Sprintf("/api/courses/%d/queue", cs), nil)
	require.Less(t, r.Status, 300, string(r.Body))
	require.Eventually(t, func() bool {
		return other.Must("GET", fmt.Sprintf("/api/courses/%d/queue", cs), nil).JSON()["state"] == "enrolled"
	}, 15*time.Second, 50*time.Millisecond)

	p := openPage(t, s.base, phone)
	p.signIn("s2001")
	p.wait("the course shows full", textIs(rowSel(cs, ".badge"), "Full"), 15*time.Second)
	assert.Equal(t, "0 of 1 seats left", p.eval(rowSel(cs, ".seats")+".textContent"))
	p.wait("the button offers the waiting list", textIs(rowSel(cs, ".join"), "Join waiting list"), 5*time.Second)
	p.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#courses li[data-course="%d"] .join`, cs))))
	p.wait("on the waiting list", textIs(qsel(cs, ".q-pos"), "Waiting list"), 15*time.Second)
	msg := p.eval(qsel(cs, ".q-msg") + ".textContent")
	assert.Contains(t, msg, "The course is full. You are on the waiting list")
	assert.Equal(t, "On waiting list", p.eval(rowSel(cs, ".join")+".textContent"))
	p.noFailureShown()

	r = other.Must("DELETE", fmt.Sprintf("/api/enrollments/%d", cs), nil)
	require.Equal(t, http.StatusNoContent, r.Status)
	p.wait("the freed seat comes to the waiting list", textIs(qsel(cs, ".q-pos"), "Enrolled"), 40*time.Second)
	p.noFailureShown()
}

// TestSessionExpiresInTheQueue: the session is revoked while the student
// waits; the page goes back to sign-in, says why, and after signing in again
// shows the same place in the queue.
func TestSessionExpiresInTheQueue(t *testing.T) {
	s := newSite(t, testenv.AppOptions{NoAdmitter: true})
	cs := s.course("CS101", "Introduction to Programming", 50, time.Now().Add(-time.Minute))
	s.students("s3001", "s3002")
	r := s.student("s3002").Must("POST", fmt.Sprintf("/api/courses/%d/queue", cs), nil)
	require.Equal(t, http.StatusAccepted, r.Status)

	p := openPage(t, s.base, desktop)
	p.signIn("s3001")
	p.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#courses li[data-course="%d"] .join`, cs))))
	p.wait("position 2", textIs(qsel(cs, ".q-pos"), "Position 2"), 10*time.Second)

	// Revoke the browser's session as a sign-out elsewhere would: the
	// cookie is HttpOnly, so read it through the DevTools protocol.
	cookies, err := chromedp.Run(p.ctx, getCookies(s.base))
	require.NoError(t, err)
	var sid string
	for _, c := range cookies {
		if c.Name == "surge_session" {
			sid = c.Value
		}
	}
	require.NotEmpty(t, sid, "session cookie")
	r = env.NewClient(t, s.base).Must("POST", "/api/logout", nil, "Cookie", "surge_session="+sid)
	require.Equal(t, http.StatusNoContent, r.Status)

	p.wait("back at sign-in", `!document.getElementById("signin").hidden && document.getElementById("app").hidden`, 10*time.Second)
	assert.Contains(t, p.eval(`document.getElementById("signin-info").textContent`), "Your session has expired")
	assert.Equal(t, "signin-h", p.eval(`document.activeElement.id`), "focus on the sign-in heading")
	p.noFailureShown()

	p.signIn("s3001")
	p.wait("the same place in the queue", textIs(qsel(cs, ".q-pos"), "Position 2"), 10*time.Second)
}

// TestBusyServiceIsRetried: a proxy in front of the app answers the join
// with 503 and Retry-After: 1 once; the page waits at least that long,
// retries, and the student ends enrolled without seeing a failure.
func TestBusyServiceIsRetried(t *testing.T) {
	s := newSite(t, testenv.AppOptions{})
	cs := s.course("CS101", "Introduction to Programming", 50, time.Now().Add(-time.Minute))
	s.students("s4001")
	target, err := url.Parse(s.base)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var (
		mu    sync.Mutex
		joins []time.Time
	)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == fmt.Sprintf("/api/courses/%d/queue", cs) {
			mu.Lock()
			joins = append(joins, time.Now())
			first := len(joins) == 1
			mu.Unlock()
			if first {
				w.Header().Set("Retry-After", "1")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"error":{"code":"overloaded","message":"too many requests in flight"}}` + "\n"))
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	p := openPage(t, front.URL, desktop)
	p.signIn("s4001")
	// The notice shows for about the Retry-After second only; an observer
	// records it, so a slow poll on a loaded machine cannot miss it.
	require.True(t, p.js(`(() => {
		const n = document.getElementById("notice");
		window.busySeen = false;
		new MutationObserver(() => {
			if (n.textContent.startsWith("The service is busy. Trying again in")) window.busySeen = true;
		}).observe(n, {childList: true, characterData: true, subtree: true});
		return true;
	})()`))
	p.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#courses li[data-course="%d"] .join`, cs))))
	p.wait("the busy notice", `window.busySeen === true`, 10*time.Second)
	p.noFailureShown()
	p.wait("enrolled", textIs(qsel(cs, ".q-pos"), "Enrolled"), 20*time.Second)
	p.noFailureShown()
	assert.True(t, p.js(`document.getElementById("notice").hidden`), "the busy notice goes once the retry succeeds")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, joins, 2, "one refused join, one retry")
	assert.GreaterOrEqual(t, joins[1].Sub(joins[0]), time.Second, "Retry-After honoured")
}

func TestUnknownPageIsFriendly(t *testing.T) {
	s := newSite(t, testenv.AppOptions{NoAdmitter: true})
	p := openPage(t, s.base, phone)
	p.do(chromedp.Navigate(s.base + "/no/such/page"))
	p.wait("the 404 page", `document.querySelector("h2") && document.querySelector("h2").textContent === "Page not found"`, 10*time.Second)
	assert.True(t, p.js(`document.querySelector('a[href="/"]') !== null`))
	assert.True(t, strings.Contains(p.eval(`document.title`), "not found"))
	p.noHorizontalScroll()
}

// TestCountdownFollowsTheServerClock: the server's clock is an hour ahead
// of the browser's (as a phone with a wrong clock sees it); the countdown and
// the Join button follow the server, and the join at the opening succeeds.
// Once on, the button stays on even when a later Date header (another
// instance, its clock behind) would put the opening back in the future.
func TestCountdownFollowsTheServerClock(t *testing.T) {
	const ahead = time.Hour
	serverNow := func() time.Time { return time.Now().Add(ahead) }
	s := newSite(t, testenv.AppOptions{NoAdmitter: true, Now: serverNow})
	cs := s.course("CS101", "Introduction to Programming", 50, serverNow().Add(6*time.Second))
	s.students("s5001")
	target, err := url.Parse(s.base)
	require.NoError(t, err)
	var lag atomic.Int64 // how far the Date header falls behind the server's clock
	dated := make(chan struct{}, 64)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		r.Header.Set("Date", serverNow().Add(-time.Duration(lag.Load())).UTC().Format(http.TimeFormat))
		if lag.Load() != 0 && r.Request.URL.Path == "/api/courses" {
			select {
			case dated <- struct{}{}:
			default:
			}
		}
		return nil
	}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)

	p := openPage(t, front.URL, desktop)
	p.signIn("s5001")
	badge := p.eval(rowSel(cs, ".badge") + ".textContent")
	assert.Regexp(t, `^Opens in 0:0[0-9]$`, badge, "seconds to go by the server's clock, not an hour")
	assert.True(t, p.js(rowSel(cs, ".join")+".disabled"), "Join waits for the opening")
	p.wait("the opening", textIs(rowSel(cs, ".join"), "Join")+" && !"+rowSel(cs, ".join")+".disabled", 15*time.Second)

	lag.Store(int64(3 * time.Second))
	select {
	case <-dated: // the page reloads its courses every 5 s or so
	case <-time.After(10 * time.Second):
		t.Fatal("the page did not reload its courses")
	}
	time.Sleep(1200 * time.Millisecond) // a tick of the countdown
	assert.False(t, p.js(rowSel(cs, ".join")+".disabled"), "the Join button stays on")
	lag.Store(0)

	p.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#courses li[data-course="%d"] .join`, cs))))
	p.wait("queued", textIs(qsel(cs, ".q-pos"), "Position 1"), 10*time.Second)
	p.noFailureShown()
}

// TestFirstLoadWeight measures what the browser downloads for the page
// (document, script, stylesheet: bytes on the wire, headers included) and
// checks that the assets come compressed and cached for a year.
func TestFirstLoadWeight(t *testing.T) {
	s := newSite(t, testenv.AppOptions{NoAdmitter: true})
	p := openPage(t, s.base, phone)
	p.wait("the sign-in form", `!document.getElementById("signin").hidden`, 20*time.Second)
	total, err := chromedp.Run(p.ctx, chromedp.Evaluate[float64](`
		performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource"))
			.filter(e => !e.name.includes("/api/"))
			.reduce((n, e) => n + e.transferSize, 0)`))
	require.NoError(t, err)
	n, err := chromedp.Run(p.ctx, chromedp.Evaluate[float64](`performance.getEntriesByType("resource").filter(e => e.name.includes("/assets/")).length`))
	require.NoError(t, err)
	t.Logf("first load on the wire: %.0f bytes (document + %.0f assets)", total, n)
	assert.Equal(t, 2.0, n, "script and stylesheet")
	assert.Greater(t, total, 1000.0)
	assert.Less(t, total, 50*1024.0)

	for _, path := range []string{"/", p.eval(`document.querySelector("script").getAttribute("src")`)} {
		req, err := http.NewRequest("GET", s.base+path, nil)
		require.NoError(t, err)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultTransport.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"), path)
		if path == "/" {
			assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
		} else {
			assert.Equal(t, "public, max-age=31536000, immutable", resp.Header.Get("Cache-Control"), path)
		}
	}
}

// TestPollingSlowsFarBack: a student 1,000th in line asks for the position
// far less often than one at the front, who keeps one request waiting at
// the server (it answers when the state is final or after the server's
// wait, then the page asks again after the poll hint); far back, the page
// reads the progress counter instead. A proxy shows one course's queue as
// ticket and position 1000 with nobody decided, and counts the polls of
// both courses.
func TestPollingSlowsFarBack(t *testing.T) {
	s := newSite(t, testenv.AppOptions{NoAdmitter: true})
	far := s.course("CS101", "Introduction to Programming", 50, time.Now().Add(-time.Minute))
	near := s.course("ART105", "Drawing Studio", 12, time.Now().Add(-time.Minute))
	s.students("s6001")
	target, err := url.Parse(s.base)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	farPath := fmt.Sprintf("/api/courses/%d/queue", far)
	nearPath := fmt.Sprintf("/api/courses/%d/queue", near)
	farProgress := fmt.Sprintf("/api/courses/%d/progress", far)
	proxy.ModifyResponse = func(r *http.Response) error {
		body := ""
		switch {
		case r.StatusCode >= 300:
		case r.Request.URL.Path == farPath:
			body = `{"state":"queued","ticket":1000,"position":1000}` + "\n"
		case r.Request.URL.Path == farProgress:
			// Nobody decided yet: ticket 1000's turn is far off.
			body = fmt.Sprintf(`{"courseId":%d,"decidedThrough":0,"seatsLeft":50}`, far) + "\n"
		}
		if body != "" {
			r.Body = io.NopCloser(strings.NewReader(body))
			r.ContentLength = int64(len(body))
			r.Header.Set("Content-Length", fmt.Sprint(len(body)))
		}
		return nil
	}
	var (
		mu    sync.Mutex
		polls = map[string]int{}
		waits = map[string]bool{}
	)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			mu.Lock()
			polls[r.URL.Path]++
			waits[r.URL.Path+"?wait="+r.URL.Query().Get("wait")] = true
			mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	p := openPage(t, front.URL, desktop)
	p.signIn("s6001")
	p.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#courses li[data-course="%d"] .join`, far))))
	p.wait("far back", textIs(qsel(far, ".q-pos"), "Position 1000"), 10*time.Second)
	p.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#courses li[data-course="%d"] .join`, near))))
	p.wait("at the front", textIs(qsel(near, ".q-pos"), "Position 1"), 10*time.Second)
	mu.Lock()
	polls = map[string]int{}
	mu.Unlock()
	time.Sleep(8 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("polls in 8 s: position 1: %d, position 1000: %d (progress reads %d)", polls[nearPath], polls[farPath], polls[farProgress])
	assert.GreaterOrEqual(t, polls[nearPath], 1, "the front keeps asking")
	assert.LessOrEqual(t, polls[nearPath], 4, "each poll waits at the server (4 s) before it answers")
	assert.True(t, waits[nearPath+"?wait=20"], "polls ask the server to wait: %v", waits)
	assert.Zero(t, polls[farPath], "1,000th in line: about every 26 s")
	assert.GreaterOrEqual(t, polls[farProgress], 2, "meanwhile the page reads the progress counter")
}
