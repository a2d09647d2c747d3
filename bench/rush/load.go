package rush

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/surge-dev/surge/internal/localenv/surgeapi"
)

// studentPassword is shared by the benchmark's students (SURGE_PASSWORD_HASH
// =fast makes logging 20,000 of them in cheap).
const studentPassword = "rush-password-1"

// gen is the load generator. In the pool model a bounded number of requests
// are in flight (sem) over one shared pool of keep-alive connections,
// spread round-robin over the instances like a load balancer without
// stickiness. In the student model each student has its own client with one
// keep-alive connection (attach), as a browser has, and no shared bound.
type gen struct {
	sc      Scenario
	http    *http.Client
	sem     chan struct{}
	bases   []string
	next    atomic.Uint64
	token   string
	anomaly sync.Map // name -> *atomic.Int64
	edge    *edgeCache
	// clients are the students' own clients (student model), closed with
	// the generator.
	clients []*http.Client
}

func newTransport(conns int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

func newGen(sc Scenario, bases []string, token string) *gen {
	g := &gen{
		sc: sc, bases: bases, token: token,
		http: &http.Client{Transport: newTransport(sc.Conns + 16), Timeout: 30 * time.Second},
		sem:  make(chan struct{}, sc.Conns),
	}
	g.edge = newEdgeCache(func(ctx context.Context, path string) (*http.Response, error) {
		// A miss goes to the origin over the CDN's own connections (the
		// shared pool), round robin.
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.bases[int(g.next.Add(1)-1)%len(g.bases)]+path, nil)
		if err != nil {
			return nil, err
		}
		return g.http.Do(req)
	})
	return g
}

// attach gives every student its own client in the student model: one
// connection at most (MaxConnsPerHost 1, kept alive), pinned to one
// instance as a connection-level balancer would (student i to instance i
// mod n). A no-op in the pool model.
func (g *gen) attach(students []*student) {
	for _, s := range students {
		s.http, s.base = nil, ""
		if g.sc.Clients != ClientsStudent {
			continue
		}
		c := &http.Client{Transport: newTransport(1), Timeout: 30 * time.Second}
		s.http, s.base = c, g.bases[s.idx%len(g.bases)]
		g.clients = append(g.clients, c)
	}
}

func (g *gen) close() {
	g.http.CloseIdleConnections()
	for _, c := range g.clients {
		c.CloseIdleConnections()
	}
}

func (g *gen) count(name string) {
	v, _ := g.anomaly.LoadOrStore(name, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (g *gen) anomalies() map[string]int64 {
	out := map[string]int64{}
	g.anomaly.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// client returns an API client for the next instance (round robin).
func (g *gen) client() *surgeapi.Client {
	b := g.bases[int(g.next.Add(1)-1)%len(g.bases)]
	return &surgeapi.Client{Base: b, HTTP: g.http, AdminToken: g.token}
}

// do runs one request and records its latency. A student with its own
// client (s may be nil) sends on its own connection at once; otherwise the
// request waits for a slot of the shared pool (slot wait excluded from the
// latency: that is the generator's own queue).
func (g *gen) do(ctx context.Context, rec *Recorder, s *student, name string, fn func(c *surgeapi.Client) (int, error)) (int, error) {
	c := &surgeapi.Client{AdminToken: g.token}
	if s != nil && s.http != nil {
		c.Base, c.HTTP = s.base, s.http
	} else {
		select {
		case g.sem <- struct{}{}:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		defer func() { <-g.sem }()
		c = g.client()
	}
	t0 := time.Now()
	status, err := fn(c)
	d := time.Since(t0)
	if err != nil && status == 0 {
		var ae *surgeapi.Error
		if errors.As(err, &ae) {
			status = ae.Status
		}
	}
	if rec != nil && ctx.Err() == nil {
		rec.Record(name, t0, d, status, err)
	}
	return status, err
}

// backoff is how long to wait before retrying after status (Retry-After in
// whole seconds is honoured, capped at 1 s: the rush is short).
func backoff(err error, status int) time.Duration {
	var ae *surgeapi.Error
	if errors.As(err, &ae) && ae.RetryAfter != "" {
		if s, e := strconv.Atoi(ae.RetryAfter); e == nil {
			return min(time.Duration(s)*time.Second, time.Second)
		}
	}
	switch {
	case status == http.StatusConflict: // not open yet (clock edge, cache)
		return 20 * time.Millisecond
	case status == 0:
		return 50 * time.Millisecond
	default:
		return 100 * time.Millisecond
	}
}

// retryDelay is how long a student waits before retrying a refused or
// failed request. The student model retries as the page does
// (app/site/static/assets/app.js, api): never before Retry-After, plus an
// exponential backoff with full jitter (up to 500 ms x 2^attempt, at most
// 30 s), so that refused students do not come back in one wave. The pool
// model keeps its former fixed delays.
func (g *gen) retryDelay(err error, status, attempt int) time.Duration {
	if g.sc.Clients != ClientsStudent || status == http.StatusConflict {
		return backoff(err, status)
	}
	var after time.Duration
	var ae *surgeapi.Error
	if errors.As(err, &ae) && ae.RetryAfter != "" {
		if s, e := strconv.Atoi(ae.RetryAfter); e == nil && s > 0 {
			after = time.Duration(s) * time.Second
		}
	}
	ceiling := min(30*time.Second, 500*time.Millisecond<<min(attempt, 6))
	return after + time.Duration(rand.Int64N(int64(ceiling)))
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// student is one simulated student and what it observed.
type student struct {
	idx     int
	no      string
	cookie  string
	courses []int // course indexes joined, in click order

	// http and base are the student's own client and instance (student
	// model); nil in the pool model.
	http *http.Client
	base string

	state     []surgeapi.QueueState // last observed per joined course
	clickAt   []time.Time           // when the student first asked for each course
	finalAt   []time.Time
	sawEnroll []bool
	cancelled int // course index cancelled, -1 = none
	err       string
}

func newStudents(sc Scenario, prefix string) []*student {
	out := make([]*student, sc.Students)
	for i := range out {
		cs := sc.coursesOf(i)
		out[i] = &student{
			idx: i, no: fmt.Sprintf("%s%06d", prefix, i+1), courses: cs,
			state: make([]surgeapi.QueueState, len(cs)), finalAt: make([]time.Time, len(cs)), clickAt: make([]time.Time, len(cs)),
			sawEnroll: make([]bool, len(cs)), cancelled: -1,
		}
	}
	return out
}

func (s *student) resetObservations() {
	for j := range s.courses {
		s.state[j] = surgeapi.QueueState{}
		s.finalAt[j] = time.Time{}
		s.clickAt[j] = time.Time{}
		s.sawEnroll[j] = false
	}
	s.cancelled, s.err, s.cookie = -1, "", ""
}

// forEach runs fn over the students with the generator's concurrency and
// returns the first error (setup phases: logins).
func (g *gen) forEach(ctx context.Context, students []*student, fn func(context.Context, *student) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	work := make(chan *student)
	for w := 0; w < g.sc.Conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range work {
				if err := fn(ctx, s); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
	for _, s := range students {
		select {
		case work <- s:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	return first
}

// loginApp signs every student in ahead of the release.
func (g *gen) loginApp(ctx context.Context, rec *Recorder, students []*student) error {
	return g.forEach(ctx, students, func(ctx context.Context, s *student) error {
		var err error
		// Sign-ins have their own bound at each instance (503 past it): the
		// setup is not measured, so retry patiently, with jitter.
		for attempt := 0; attempt < 30; attempt++ {
			var sess *surgeapi.Session
			status, e := g.do(ctx, rec, s, "login", func(c *surgeapi.Client) (int, error) {
				var err error
				sess, err = c.Login(ctx, s.no, studentPassword)
				return statusFor(err), err
			})
			if e == nil {
				s.cookie = sess.Cookie
				return nil
			}
			err = e
			if status != 0 && status < 500 {
				break
			}
			sleepCtx(ctx, jitter(backoff(e, status)))
		}
		return fmt.Errorf("login %s: %w", s.no, err)
	})
}

// statusFor is 200 for a nil error, else the *surgeapi.Error status (0 for a
// transport error).
func statusFor(err error) int {
	if err == nil {
		return http.StatusOK
	}
	return surgeapi.StatusOf(err)
}

// rushApp releases every student at release: each joins its courses, polls
// until every state is final, and the chosen ones cancel one enrollment.
func (g *gen) rushApp(ctx context.Context, rec *Recorder, students []*student, courseIDs []int64, release time.Time) {
	g.releaseAll(ctx, students, release, func(ctx context.Context, s *student) { g.appStudent(ctx, rec, s, courseIDs) })
}

// releaseAll parks one goroutine per student at a gate that opens at
// release, so every student clicks at the same instant, runs each, and
// waits for all of them or the rush timeout.
func (g *gen) releaseAll(ctx context.Context, students []*student, release time.Time, each func(context.Context, *student)) {
	ctx, cancel := context.WithDeadline(ctx, release.Add(g.sc.RushTimeout))
	defer cancel()
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range students {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-gate:
			case <-ctx.Done():
				return
			}
			each(ctx, s)
		}()
	}
	sleepCtx(ctx, time.Until(release))
	close(gate)
	wg.Wait()
}

// appStudent is one student at the rush: join each course in click order,
// then wait for every answer to be final (the client model's way), then
// maybe cancel one enrollment.
func (g *gen) appStudent(ctx context.Context, rec *Recorder, s *student, courseIDs []int64) {
	for j := range s.courses {
		if !g.join(ctx, rec, s, j, courseIDs, g.joinWait()) {
			if s.err == "" {
				s.err = "rush timeout during join"
			}
			return
		}
	}
	if g.sc.Clients == ClientsStudent {
		g.awaitPage(ctx, rec, s, courseIDs)
	} else {
		g.awaitPolling(ctx, rec, s, courseIDs)
	}
	if ctx.Err() != nil {
		s.err = "not final before the rush timeout"
		return
	}
	if g.sc.cancels(s.idx) {
		for j, ci := range s.courses {
			if s.state[j].State != "enrolled" {
				continue
			}
			if g.cancel(ctx, rec, s, "/api/enrollments/"+strconv.FormatInt(courseIDs[ci], 10)) {
				s.cancelled = ci
			}
			break
		}
	}
}

// observe records a student's answer in course j: the first final one is
// the moment the student knows.
func (s *student) observe(rec *Recorder, j int, q surgeapi.QueueState) {
	s.state[j] = q
	if q.State == "enrolled" {
		s.sawEnroll[j] = true
	}
	if q.Final() && s.finalAt[j].IsZero() {
		s.finalAt[j] = time.Now()
		rec.Answer(s.clickAt[j], s.finalAt[j])
	}
}

// join asks for a place in course j (waiting up to wait for a final
// answer), retrying what a page retries.
func (g *gen) join(ctx context.Context, rec *Recorder, s *student, j int, courseIDs []int64, wait time.Duration) bool {
	id := courseIDs[s.courses[j]]
	for attempt := 0; ctx.Err() == nil; attempt++ {
		var q surgeapi.QueueState
		if s.clickAt[j].IsZero() {
			s.clickAt[j] = time.Now()
		}
		status, err := g.do(ctx, rec, s, "join", func(c *surgeapi.Client) (int, error) {
			st, _, err := c.Do(ctx, http.MethodPost, coursePath(id)+waitQuery(wait), s.cookie, false, nil, &q)
			return st, err
		})
		if err == nil {
			s.observe(rec, j, q)
			return true
		}
		switch {
		case status == http.StatusConflict:
			g.count("join 409 (not open yet), retried")
		case status == http.StatusUnauthorized:
			g.count("join 401 (session lost), re-login")
			if !g.relogin(ctx, rec, s) {
				return false
			}
			continue
		case status == 0 || status >= 500 || status == http.StatusTooManyRequests:
			g.count(fmt.Sprintf("join %d, retried", status))
		default:
			s.err = fmt.Sprintf("join course %d: %v", id, err)
			return false
		}
		sleepCtx(ctx, g.retryDelay(err, status, attempt))
	}
	return false
}

// joinWait is the wait a join asks for: none in the pool model.
func (g *gen) joinWait() time.Duration {
	if g.sc.Clients == ClientsStudent {
		return g.sc.JoinWait
	}
	return 0
}

// waitQuery is the bounded wait of a join or status request ("" = none).
func waitQuery(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return "?wait=" + strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// status reads the student's own state in course j, waiting up to wait for
// a final one.
func (g *gen) status(ctx context.Context, rec *Recorder, s *student, j int, courseIDs []int64, name string, wait time.Duration) {
	id := courseIDs[s.courses[j]]
	var q surgeapi.QueueState
	status, err := g.do(ctx, rec, s, name, func(c *surgeapi.Client) (int, error) {
		st, _, err := c.Do(ctx, http.MethodGet, coursePath(id)+waitQuery(wait), s.cookie, false, nil, &q)
		return st, err
	})
	switch {
	case err == nil && q.State == "none":
		g.count(name + " answered none after join, re-joined")
		g.join(ctx, rec, s, j, courseIDs, g.joinWait())
	case err == nil:
		s.observe(rec, j, q)
	case status == http.StatusUnauthorized:
		g.count(name + " 401 (session lost), re-login")
		g.relogin(ctx, rec, s)
	case ctx.Err() == nil:
		g.count(fmt.Sprintf("%s %d", name, status))
		sleepCtx(ctx, g.retryDelay(err, status, 0))
	}
}

// awaitPolling is the pool model's wait: ask for every pending state every
// PollInterval.
func (g *gen) awaitPolling(ctx context.Context, rec *Recorder, s *student, courseIDs []int64) {
	for ctx.Err() == nil && s.pending() {
		if !sleepCtx(ctx, jitter(g.sc.PollInterval)) {
			return
		}
		for j := range s.courses {
			if !s.state[j].Final() {
				g.status(ctx, rec, s, j, courseIDs, "poll", 0)
			}
		}
	}
}

// awaitPage is the page's wait (app/site/static/assets/app.js): read the
// course's progress counter, which the CDN caches for its max-age, every
// ProgressInterval, and ask for the student's own state (with a bounded
// wait) only when the counter reached the student's ticket, or when the
// server's poll hint says so.
func (g *gen) awaitPage(ctx context.Context, rec *Recorder, s *student, courseIDs []int64) {
	due := make([]time.Time, len(s.courses)) // when the poll hint says to ask again
	hint := func(j int) {
		d := time.Second // a queued answer without a hint: the page's floor
		if h := s.state[j].PollAfterMs; h != nil {
			d = time.Duration(*h) * time.Millisecond
		}
		due[j] = time.Now().Add(d)
	}
	for j := range s.courses {
		hint(j)
	}
	for ctx.Err() == nil && s.pending() {
		next := time.Now().Add(jitter(g.sc.ProgressInterval))
		for j := range s.courses {
			if !s.state[j].Final() && due[j].Before(next) {
				next = due[j]
			}
		}
		if !sleepCtx(ctx, time.Until(next)) {
			return
		}
		for j := range s.courses {
			if s.state[j].Final() {
				continue
			}
			ask := !time.Now().Before(due[j])
			if !ask {
				p, ok := g.progress(ctx, rec, s, courseIDs[s.courses[j]])
				ask = ok && p.DecidedThrough >= s.state[j].Ticket
			}
			if ask {
				g.status(ctx, rec, s, j, courseIDs, "status", g.sc.StatusWait)
				hint(j)
			}
		}
	}
}

func (s *student) pending() bool {
	for j := range s.courses {
		if !s.state[j].Final() {
			return true
		}
	}
	return false
}

func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// progress reads a course's progress counter through the CDN model: an
// answer the edge holds is recorded as "progress (edge)" and never reaches
// the origin; a miss is recorded as "progress".
func (g *gen) progress(ctx context.Context, rec *Recorder, s *student, id int64) (surgeapi.Progress, bool) {
	t0 := time.Now()
	p, hit, status, err := g.edge.get(ctx, "/api/courses/"+strconv.FormatInt(id, 10)+"/progress")
	name := "progress"
	if hit {
		name = edgeEndpoint
	}
	if ctx.Err() == nil {
		rec.Record(name, t0, time.Since(t0), status, err)
	}
	if err != nil {
		g.count(fmt.Sprintf("progress %d", status))
		return p, false
	}
	return p, true
}

func (g *gen) relogin(ctx context.Context, rec *Recorder, s *student) bool {
	var sess *surgeapi.Session
	_, err := g.do(ctx, rec, s, "login", func(c *surgeapi.Client) (int, error) {
		var err error
		sess, err = c.Login(ctx, s.no, studentPassword)
		return statusFor(err), err
	})
	if err != nil {
		s.err = "re-login: " + err.Error()
		return false
	}
	s.cookie = sess.Cookie
	return true
}

func coursePath(id int64) string { return "/api/courses/" + strconv.FormatInt(id, 10) + "/queue" }

// loginBaseline signs every student in to the baseline.
func (g *gen) loginBaseline(ctx context.Context, rec *Recorder, students []*student) error {
	return g.forEach(ctx, students, func(ctx context.Context, s *student) error {
		var cookie string
		_, err := g.do(ctx, rec, s, "login", func(c *surgeapi.Client) (int, error) {
			st, h, err := c.Do(ctx, http.MethodPost, "/login", "", false, map[string]string{"studentNo": s.no}, nil)
			if err == nil {
				resp := http.Response{Header: h}
				var parts []string
				for _, ck := range resp.Cookies() {
					parts = append(parts, ck.Name+"="+ck.Value)
				}
				cookie = strings.Join(parts, "; ")
			}
			return st, err
		})
		if err != nil {
			return fmt.Errorf("baseline login %s: %w", s.no, err)
		}
		s.cookie = cookie
		return nil
	})
}

// rushBaseline: the same students click the same courses at the same
// instant; each lock-per-request answer is final at once.
func (g *gen) rushBaseline(ctx context.Context, rec *Recorder, students []*student, release time.Time) {
	g.releaseAll(ctx, students, release, func(ctx context.Context, s *student) { g.baselineStudent(ctx, rec, s) })
}

func baselineID(ci int) int64 { return int64(ci + 1) }

func (g *gen) baselineStudent(ctx context.Context, rec *Recorder, s *student) {
	for j, ci := range s.courses {
		for attempt := 0; ctx.Err() == nil; attempt++ {
			var out struct {
				State string `json:"state"`
			}
			if s.clickAt[j].IsZero() {
				s.clickAt[j] = time.Now()
			}
			status, err := g.do(ctx, rec, s, "enroll", func(c *surgeapi.Client) (int, error) {
				st, _, err := c.Do(ctx, http.MethodPost, "/enroll/"+strconv.FormatInt(baselineID(ci), 10), s.cookie, false, nil, &out)
				return st, err
			})
			if err == nil {
				s.state[j] = surgeapi.QueueState{State: out.State}
				s.sawEnroll[j] = out.State == "enrolled"
				s.finalAt[j] = time.Now()
				rec.Answer(s.clickAt[j], s.finalAt[j])
				break
			}
			if status != 0 && status < 500 {
				s.err = fmt.Sprintf("enroll course %d: %v", ci, err)
				return
			}
			g.count(fmt.Sprintf("enroll %d, retried", status))
			sleepCtx(ctx, g.retryDelay(err, status, attempt))
		}
	}
	if ctx.Err() != nil {
		s.err = "not final before the rush timeout"
		return
	}
	if g.sc.cancels(s.idx) {
		for j, ci := range s.courses {
			if s.state[j].State != "enrolled" {
				continue
			}
			if g.cancel(ctx, rec, s, "/enroll/"+strconv.FormatInt(baselineID(ci), 10)) {
				s.cancelled = ci
			}
			break
		}
	}
}

// cancel deletes one enrollment and says whether it is gone. It is sent
// again after a refusal (503, 429) or no answer, as the page retries; a
// cancel that got no answer (the client's timeout) may still have been
// applied, so a 404 on a retry means it was.
func (g *gen) cancel(ctx context.Context, rec *Recorder, s *student, path string) bool {
	for attempt := 0; ; attempt++ {
		status, err := g.do(ctx, rec, s, "cancel", func(c *surgeapi.Client) (int, error) {
			st, _, err := c.Do(ctx, http.MethodDelete, path, s.cookie, false, nil, nil)
			return st, err
		})
		switch {
		case err == nil, attempt > 0 && status == http.StatusNotFound:
			return true
		case (status != 0 && status != http.StatusServiceUnavailable && status != http.StatusTooManyRequests) ||
			attempt >= 4 || ctx.Err() != nil:
			g.count(fmt.Sprintf("cancel %d", status))
			return false
		}
		time.Sleep(backoff(err, status))
	}
}

// calibrate measures a bare net/http handler with the same generator and
// concurrency: the denominator of the join-rate target.
func (g *gen) calibrate(ctx context.Context, url string, d time.Duration) (EndpointSummary, error) {
	start := time.Now()
	rec := NewRecorder(start, 250*time.Millisecond)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := 0; w < g.sc.Conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				t0 := time.Now()
				resp, err := g.http.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body) // drain for connection reuse
				resp.Body.Close()
				if ctx.Err() == nil {
					rec.Record("bare", t0, time.Since(t0), resp.StatusCode, nil)
				}
			}
		}()
	}
	wg.Wait()
	s := rec.Summaries()
	if len(s) == 0 {
		return EndpointSummary{}, fmt.Errorf("bare calibration got no answer (%d errors)", failed.Load())
	}
	return s[0], nil
}
