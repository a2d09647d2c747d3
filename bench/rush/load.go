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

// gen is the load generator: a bounded number of requests in flight (sem),
// one keep-alive connection per slot and per instance, requests spread
// round-robin over the instances like a load balancer without stickiness.
type gen struct {
	sc      Scenario
	http    *http.Client
	sem     chan struct{}
	bases   []string
	next    atomic.Uint64
	token   string
	anomaly sync.Map // name -> *atomic.Int64
}

func newGen(sc Scenario, bases []string, token string) *gen {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: sc.Conns + 16,
		MaxConnsPerHost:     sc.Conns + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &gen{
		sc: sc, bases: bases, token: token,
		http: &http.Client{Transport: tr, Timeout: 30 * time.Second},
		sem:  make(chan struct{}, sc.Conns),
	}
}

func (g *gen) close() { g.http.CloseIdleConnections() }

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

// do runs one request inside a concurrency slot and records its latency
// (slot wait excluded: that is the generator's own queue).
func (g *gen) do(ctx context.Context, rec *Recorder, name string, fn func(c *surgeapi.Client) (int, error)) (int, error) {
	select {
	case g.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	t0 := time.Now()
	status, err := fn(g.client())
	d := time.Since(t0)
	<-g.sem
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

	state     []surgeapi.QueueState // last observed per joined course
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
			state: make([]surgeapi.QueueState, len(cs)), finalAt: make([]time.Time, len(cs)),
			sawEnroll: make([]bool, len(cs)), cancelled: -1,
		}
	}
	return out
}

func (s *student) resetObservations() {
	for j := range s.courses {
		s.state[j] = surgeapi.QueueState{}
		s.finalAt[j] = time.Time{}
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
		for attempt := 0; attempt < 5; attempt++ {
			var sess *surgeapi.Session
			status, e := g.do(ctx, rec, "login", func(c *surgeapi.Client) (int, error) {
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
			sleepCtx(ctx, backoff(e, status))
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

func (g *gen) appStudent(ctx context.Context, rec *Recorder, s *student, courseIDs []int64) {
	observe := func(j int, q surgeapi.QueueState) {
		s.state[j] = q
		if q.State == "enrolled" {
			s.sawEnroll[j] = true
		}
		if q.Final() && s.finalAt[j].IsZero() {
			s.finalAt[j] = time.Now()
			rec.Final(s.finalAt[j])
		}
	}
	join := func(j int) bool {
		id := courseIDs[s.courses[j]]
		for ctx.Err() == nil {
			var q surgeapi.QueueState
			status, err := g.do(ctx, rec, "join", func(c *surgeapi.Client) (int, error) {
				st, _, err := c.Do(ctx, http.MethodPost, coursePath(id), s.cookie, false, nil, &q)
				return st, err
			})
			if err == nil {
				observe(j, q)
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
			sleepCtx(ctx, backoff(err, status))
		}
		return false
	}
	for j := range s.courses {
		if !join(j) {
			if s.err == "" {
				s.err = "rush timeout during join"
			}
			return
		}
	}
	for ctx.Err() == nil {
		pending := false
		for j := range s.courses {
			if !s.state[j].Final() {
				pending = true
			}
		}
		if !pending {
			break
		}
		jitter := time.Duration(float64(g.sc.PollInterval) * (0.8 + 0.4*rand.Float64()))
		if !sleepCtx(ctx, jitter) {
			break
		}
		for j := range s.courses {
			if s.state[j].Final() {
				continue
			}
			id := courseIDs[s.courses[j]]
			var q surgeapi.QueueState
			status, err := g.do(ctx, rec, "poll", func(c *surgeapi.Client) (int, error) {
				st, _, err := c.Do(ctx, http.MethodGet, coursePath(id), s.cookie, false, nil, &q)
				return st, err
			})
			switch {
			case err == nil && q.State == "none":
				g.count("poll answered none after join, re-joined")
				join(j)
			case err == nil:
				observe(j, q)
			case status == http.StatusUnauthorized:
				g.count("poll 401 (session lost), re-login")
				g.relogin(ctx, rec, s)
			default:
				g.count(fmt.Sprintf("poll %d", status))
			}
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
			status, err := g.do(ctx, rec, "cancel", func(c *surgeapi.Client) (int, error) {
				st, _, err := c.Do(ctx, http.MethodDelete, "/api/enrollments/"+strconv.FormatInt(courseIDs[ci], 10), s.cookie, false, nil, nil)
				return st, err
			})
			if err == nil {
				s.cancelled = ci
			} else {
				g.count(fmt.Sprintf("cancel %d", status))
			}
			break
		}
	}
}

func (g *gen) relogin(ctx context.Context, rec *Recorder, s *student) bool {
	var sess *surgeapi.Session
	_, err := g.do(ctx, rec, "login", func(c *surgeapi.Client) (int, error) {
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
		_, err := g.do(ctx, rec, "login", func(c *surgeapi.Client) (int, error) {
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
		for ctx.Err() == nil {
			var out struct {
				State string `json:"state"`
			}
			status, err := g.do(ctx, rec, "enroll", func(c *surgeapi.Client) (int, error) {
				st, _, err := c.Do(ctx, http.MethodPost, "/enroll/"+strconv.FormatInt(baselineID(ci), 10), s.cookie, false, nil, &out)
				return st, err
			})
			if err == nil {
				s.state[j] = surgeapi.QueueState{State: out.State}
				s.sawEnroll[j] = out.State == "enrolled"
				s.finalAt[j] = time.Now()
				rec.Final(s.finalAt[j])
				break
			}
			if status != 0 && status < 500 {
				s.err = fmt.Sprintf("enroll course %d: %v", ci, err)
				return
			}
			g.count(fmt.Sprintf("enroll %d, retried", status))
			sleepCtx(ctx, backoff(err, status))
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
			status, err := g.do(ctx, rec, "cancel", func(c *surgeapi.Client) (int, error) {
				st, _, err := c.Do(ctx, http.MethodDelete, "/enroll/"+strconv.FormatInt(baselineID(ci), 10), s.cookie, false, nil, nil)
				return st, err
			})
			if err == nil {
				s.cancelled = ci
			} else {
				g.count(fmt.Sprintf("cancel %d", status))
			}
			break
		}
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
