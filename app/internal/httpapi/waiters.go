package httpapi

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surge-dev/surge/app/internal/surge"
)

// ProgressFeed is the instance's one subscription to the progress the
// admitters publish after each batch (waitroom.Feed).
type ProgressFeed interface {
	// Watch makes sure the course's progress is delivered (idempotent).
	Watch(ctx context.Context, course int64) error
	// Progress delivers the progress of watched courses until the feed is
	// closed.
	Progress() <-chan surge.Progress
}

// Bounds of the poll hint.
const (
	maxPollAfter = 30 * time.Second
	// minPollAfter applies to an answer that did not wait (no wait asked,
	// the waiter bound reached, draining): the client must not ask again at
	// once.
	minPollAfter = time.Second
	// rateHalfLife weighs the grant rate estimate; rateStale: without
	// progress for that long the rate is unknown again.
	rateHalfLife = 2 * time.Second
	rateStale    = 10 * time.Second
	// rateMinSpan: progress closer together than this is added up before it
	// becomes a rate sample (an admitter publishes several batches a tick).
	rateMinSpan = 100 * time.Millisecond
)

// waiter is one request waiting for its student's state to become final.
type waiter struct {
	ticket int64         // guarded by hub.mu; 0 until the first answer
	wake   chan struct{} // capacity 1: a wake-up is never lost, never queued twice
}

// courseWaiters is what an instance knows of one course.
type courseWaiters struct {
	waiters map[*waiter]struct{}
	rate    rateEstimate
}

// hub fans the progress of each course out to the local waiters of that
// course: one subscription per instance, no polling per waiter. Waiters are
// bounded; past the bound a request answers at once.
type hub struct {
	feed    ProgressFeed
	max     int
	now     func() time.Time
	log     *slog.Logger
	mu      sync.Mutex
	n       int
	courses map[int64]*courseWaiters
	m       hubMetrics
}

type hubMetrics struct {
	waiters prometheus.Gauge
	wakeups prometheus.Counter
	full    prometheus.Counter
}

func newHub(feed ProgressFeed, maxWaiters int, reg prometheus.Registerer, log *slog.Logger) *hub {
	h := &hub{feed: feed, max: maxWaiters, now: time.Now, log: log, courses: map[int64]*courseWaiters{},
		m: hubMetrics{
			waiters: prometheus.NewGauge(prometheus.GaugeOpts{Name: "surge_waiters", Help: "Requests of this instance waiting for a student's final state."}),
			wakeups: prometheus.NewCounter(prometheus.CounterOpts{Name: "surge_waiter_wakeups_total", Help: "Waiters woken by published progress to read their state again."}),
			full:    prometheus.NewCounter(prometheus.CounterOpts{Name: "surge_waiter_bound_total", Help: "Requests answered at once because the waiter bound was reached."}),
		}}
	if reg != nil {
		for _, c := range []prometheus.Collector{h.m.waiters, h.m.wakeups, h.m.full} {
			if err := reg.Register(c); err != nil {
				log.Warn("registering waiter metric", "err", err)
			}
		}
	}
	go h.run()
	return h
}

// run delivers progress until the feed closes.
func (h *hub) run() {
	for p := range h.feed.Progress() {
		h.progress(p)
	}
}

// progress wakes the course's waiters the batch may have decided: those
// whose ticket is not above the batch's highest (all when unknown).
func (h *hub) progress(p surge.Progress) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.courses[p.Course]
	if c == nil {
		return
	}
	c.rate.add(h.now(), p.Decided)
	for w := range c.waiters {
		if p.Through != 0 && w.ticket != 0 && w.ticket > p.Through {
			continue
		}
		select {
		case w.wake <- struct{}{}:
			h.m.wakeups.Inc()
		default:
		}
	}
}

// add registers a waiter for a course, before the student's state is read
// (so no progress between the read and the registration is missed). ok is
// false past the bound or when the course's progress cannot be watched.
func (h *hub) add(ctx context.Context, course int64) (*waiter, bool) {
	h.mu.Lock()
	if h.n >= h.max {
		h.mu.Unlock()
		h.m.full.Inc()
		return nil, false
	}
	c := h.courses[course]
	if c == nil {
		c = &courseWaiters{waiters: map[*waiter]struct{}{}}
		h.courses[course] = c
	}
	w := &waiter{wake: make(chan struct{}, 1)}
	c.waiters[w] = struct{}{}
	h.n++
	h.m.waiters.Inc()
	h.mu.Unlock()
	if err := h.feed.Watch(ctx, course); err != nil {
		h.remove(course, w)
		h.log.Warn("watching course progress", "course", course, "err", err)
		return nil, false
	}
	return w, true
}

func (h *hub) setTicket(w *waiter, t int64) {
	h.mu.Lock()
	w.ticket = t
	h.mu.Unlock()
}

func (h *hub) remove(course int64, w *waiter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.courses[course]; c != nil {
		if _, ok := c.waiters[w]; ok {
			delete(c.waiters, w)
			h.n--
			h.m.waiters.Dec()
		}
	}
}

// rate is the course's measured decision rate (students per second), 0 when
// unknown.
func (h *hub) rate(course int64) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.courses[course]; c != nil {
		return c.rate.get(h.now())
	}
	return 0
}

// rateEstimate is an exponentially weighted moving average of the students
// a course's admitters decide per second, from the published progress.
type rateEstimate struct {
	since   time.Time // start of the sample being added up
	pending int       // students decided since then
	perSec  float64   // 0: unknown
	last    time.Time // last progress
}

func (r *rateEstimate) add(now time.Time, decided int) {
	if r.last.IsZero() || now.Sub(r.last) > rateStale {
		// First progress after a pause: the time it covers is unknown.
		*r = rateEstimate{since: now, last: now}
		return
	}
	r.last = now
	r.pending += decided
	span := now.Sub(r.since)
	if span < rateMinSpan {
		return
	}
	sample := float64(r.pending) / span.Seconds()
	if r.perSec == 0 {
		r.perSec = sample
	} else {
		alpha := 1 - math.Exp2(-span.Seconds()/rateHalfLife.Seconds())
		r.perSec += alpha * (sample - r.perSec)
	}
	r.since, r.pending = now, 0
}

func (r *rateEstimate) get(now time.Time) float64 {
	if r.last.IsZero() || now.Sub(r.last) > rateStale {
		return 0
	}
	return r.perSec
}

// pollAfter is the hint of a queued answer: about half the time until the
// student's turn at the measured rate (the next request waits for the rest),
// or, with no rate measured, the page's former schedule (1 s plus 25 ms per
// place). Bounded by maxPollAfter, and by minPollAfter from below when the
// answer did not wait.
func pollAfter(position int64, perSec float64, waited bool) time.Duration {
	d := maxPollAfter
	switch {
	case perSec > 0:
		// In floating point first: a huge position must not overflow.
		if secs := float64(position) / perSec / 2; secs >= 0 && secs < maxPollAfter.Seconds() {
			d = time.Duration(secs * float64(time.Second))
		}
	case position >= 0 && position < int64((maxPollAfter-time.Second)/(25*time.Millisecond)):
		d = time.Second + time.Duration(position)*25*time.Millisecond
	}
	if !waited {
		d = max(d, minPollAfter)
	}
	return d.Round(time.Millisecond)
}

// requestedWait reads the wait a client asks for: the query parameter
// wait=N (seconds; anything else is a 400) or, without it, the preference
// Prefer: wait=N (RFC 7240; an unreadable preference is ignored, as the RFC
// asks). It is capped at MaxWait.
func (s *Server) requestedWait(r *http.Request) (time.Duration, error) {
	var secs float64
	if v, ok := r.URL.Query()["wait"]; ok {
		n, err := strconv.ParseFloat(v[0], 64)
		if err != nil || n < 0 || math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, surge.Errorf(surge.CodeInvalid, "wait must be a number of seconds")
		}
		secs = n
	} else {
		for _, h := range r.Header.Values("Prefer") {
			for _, p := range strings.Split(h, ",") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if !strings.EqualFold(strings.TrimSpace(k), "wait") {
					continue
				}
				if n, err := strconv.ParseFloat(strings.Trim(strings.TrimSpace(v), `"`), 64); err == nil && n >= 0 && !math.IsInf(n, 0) {
					secs = n
				}
			}
		}
	}
	if secs >= s.d.MaxWait.Seconds() {
		return s.d.MaxWait, nil
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// awaitFinal answers a join or status request: first reads the student's
// state (joining them if it is a join); while it is queued and the client
// asked to wait, it waits for the course's published progress, reads the
// state again when a batch may have decided the student, and answers when
// the state is final, when the wait ends (with the current position), or at
// once when draining starts. Past the waiter bound it answers at once.
func (s *Server) awaitFinal(w http.ResponseWriter, r *http.Request, course int64, first func(ctx context.Context) (surge.Status, error), joined bool) {
	ctx := r.Context()
	wait, err := s.requestedWait(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The wait ends in time to read the state once more within the
	// request's own time bound.
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-s.d.RequestTimeout/5)
	}
	var wt *waiter
	if wait > 0 && s.hub != nil && !s.draining.Load() {
		var ok bool
		if wt, ok = s.hub.add(ctx, course); ok {
			defer s.hub.remove(course, wt)
		}
	}
	st, err := first(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	waited := false
	if wt != nil && !st.State.Final() {
		s.hub.setTicket(wt, st.Ticket)
		timer := time.NewTimer(wait)
		defer timer.Stop()
		// Parked: the in-flight slot serves others meanwhile.
		sl := slotFrom(ctx)
		sl.release()
	loop:
		for !st.State.Final() {
			select {
			case <-wt.wake:
			case <-timer.C:
				// The deadline answers even when progress was lost (Redis
				// restarted while the admitter published).
				waited = true
			case <-s.drainCh:
				// Shutting down: the last state read, at once.
				break loop
			case <-ctx.Done():
				return // the client went away
			}
			if !sl.acquire(ctx) {
				// Overloaded: the last state read (still queued), at once.
				waited = true
				break
			}
			// Woken or out of time: read the state once more.
			if st, err = s.d.Room.Status(ctx, course, studentFrom(ctx)); err != nil {
				s.fail(w, r, err)
				return
			}
			if waited {
				break
			}
			sl.release()
		}
	}
	code := http.StatusOK
	if joined && st.State == surge.StateQueued {
		code = http.StatusAccepted
	}
	out := toQueueOut(st)
	if st.State == surge.StateQueued {
		var perSec float64
		if s.hub != nil {
			perSec = s.hub.rate(course)
		}
		hint := pollAfter(st.Position, perSec, waited)
		ms := hint.Milliseconds()
		out.PollAfterMs = &ms
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(hint.Seconds())), 10))
	}
	writeJSON(w, code, out)
}
