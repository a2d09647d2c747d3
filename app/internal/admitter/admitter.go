// Package admitter grants seats to the students of the waiting room in
// ticket order. Any number of instances run one each; per course one batch
// is in flight at a time under a Redis lease with a fencing token that the
// database checks, so admitters never race each other for a course.
package admitter

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/surge-dev/surge/app/internal/surge"
)

// Room is the waiting room as the admitter uses it.
type Room interface {
	ActiveCourses(ctx context.Context) ([]int64, error)
	Queued(ctx context.Context, courses []int64) (int64, error)
	Take(ctx context.Context, course int64, size int, lease time.Duration) (surge.Batch, error)
	Complete(ctx context.Context, b surge.Batch, outcomes map[int64]surge.Outcome) ([]int64, error)
	Release(ctx context.Context, b surge.Batch) error
	Heal(ctx context.Context, b surge.Batch, fence int64) (bool, error)
	SeatsFreed(ctx context.Context, course int64) error
	Sweep(ctx context.Context, interval time.Duration, withSeats func(ctx context.Context, courses []int64) ([]int64, error)) (int, error)
	// Publish tells every instance's waiting students that a batch of the
	// course was decided (at most once: a lost message only delays them to
	// the end of their wait).
	Publish(ctx context.Context, p surge.Progress) error
}

// Store is the database as the admitter uses it.
type Store interface {
	Grant(ctx context.Context, courseID, fence int64, cands []surge.Candidate) (surge.GrantResult, error)
	GiveBack(ctx context.Context, courseID, studentID, ticket, fence int64) (bool, error)
	CoursesWithSeats(ctx context.Context, ids []int64) ([]int64, error)
}

// Options of an admitter. Zero values pick the defaults.
type Options struct {
	MaxBatch      int           // upper bound of the adaptive batch size (SURGE_ADMIT_BATCH); default 500
	Interval      time.Duration // idle poll interval (SURGE_ADMIT_INTERVAL); default 50ms
	Lease         time.Duration // lease of a taken batch (SURGE_ADMIT_LEASE); default 5s
	TargetLatency time.Duration // grant transaction latency the pacer aims under; default 100ms
	Concurrency   int           // courses processed in parallel; default 4
	// FullBatch is the batch size once a course is known to be full: those
	// students only need one check per batch. Default 2000.
	FullBatch int
	// SweepInterval: how often (fleet-wide) the database is asked which
	// courses with a waiting list have a free seat whose wake-up was lost.
	// Default 1s (one statement per interval for the whole fleet).
	SweepInterval time.Duration
	Logger        *slog.Logger
	Registerer    prometheus.Registerer
	// AfterTake, for tests, runs after a batch was taken and before it is
	// granted. If it returns an error the admitter abandons the batch as a
	// crashed process would: no grant, no release.
	AfterTake func(ctx context.Context, b surge.Batch) error
	// BeforeGiveBack, for tests, runs after a batch was completed and
	// before the seats of students who left are given back.
	BeforeGiveBack func(ctx context.Context, b surge.Batch)
}

// Admitter moves students from the queue to seats.
type Admitter struct {
	room   Room
	store  Store
	o      Options
	pacer  *pacer
	log    *slog.Logger
	m      metrics
	mu     sync.Mutex
	isFull map[int64]bool // last batch of the course found no seat left
}

type metrics struct {
	granted   prometheus.Counter
	full      prometheus.Counter
	batches   *prometheus.CounterVec
	grantTime prometheus.Histogram
	// grantSum is the same latency as a summary: the CloudWatch agent
	// imports summaries and drops histograms.
	grantSum  prometheus.Summary
	batchSize prometheus.Gauge
	queued    prometheus.Gauge
}

// New returns an admitter; call Run.
func New(room Room, store Store, o Options) *Admitter {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 500
	}
	if o.Interval <= 0 {
		o.Interval = 50 * time.Millisecond
	}
	if o.Lease <= 0 {
		o.Lease = 5 * time.Second
	}
	if o.TargetLatency <= 0 {
		o.TargetLatency = 100 * time.Millisecond
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.FullBatch <= 0 {
		o.FullBatch = 2000
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Admitter{room: room, store: store, o: o, pacer: newPacer(o.MaxBatch, o.TargetLatency), log: o.Logger, isFull: map[int64]bool{}}
	a.m = metrics{
		granted:   prometheus.NewCounter(prometheus.CounterOpts{Name: "surge_admitter_seats_granted_total", Help: "Seats granted by this instance."}),
		full:      prometheus.NewCounter(prometheus.CounterOpts{Name: "surge_admitter_full_total", Help: "Students moved to a waiting list because no seat was left."}),
		batches:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "surge_admitter_batches_total", Help: "Batches by result."}, []string{"result"}),
		grantTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "surge_admitter_grant_seconds", Help: "Grant transaction latency.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		grantSum: prometheus.NewSummary(prometheus.SummaryOpts{Name: "surge_admitter_batch_seconds", Help: "Grant transaction latency of a batch (summary, last 10 minutes).",
			Objectives: map[float64]float64{0.5: 0.05, 0.99: 0.001}}),
		batchSize: prometheus.NewGauge(prometheus.GaugeOpts{Name: "surge_admitter_batch_size", Help: "Current adaptive batch size."}),
		queued:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "surge_waitroom_queued", Help: "Students of active courses waiting for a decision, fleet-wide (every instance reports the same count)."}),
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{a.m.granted, a.m.full, a.m.batches, a.m.grantTime, a.m.grantSum, a.m.batchSize, a.m.queued} {
			if err := o.Registerer.Register(c); err != nil {
				a.log.Warn("registering admitter metric", "err", err)
			}
		}
	}
	return a
}

// Run admits until ctx is cancelled. A batch in progress when ctx ends is
// finished or handed back (its students return to the queue with their
// tickets) before Run returns.
func (a *Admitter) Run(ctx context.Context) {
	var lastSweep, lastCount time.Time
	for ctx.Err() == nil {
		if time.Since(lastCount) > queuedEvery {
			lastCount = time.Now()
			a.countQueued(ctx)
		}
		if time.Since(lastSweep) > a.o.SweepInterval/2 {
			lastSweep = time.Now()
			if _, err := a.room.Sweep(ctx, a.o.SweepInterval, a.store.CoursesWithSeats); err != nil && ctx.Err() == nil {
				a.log.Warn("sweeping waiting lists", "err", err)
			}
		}
		busy := a.Tick(ctx)
		if busy {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(a.o.Interval):
		}
	}
}

// queuedEvery bounds the waiting-room count to one Redis round trip per
// instance per interval: it feeds a per-minute metric, not admission.
const queuedEvery = 5 * time.Second

// countQueued sets the queued gauge from Redis.
func (a *Admitter) countQueued(ctx context.Context) {
	courses, err := a.room.ActiveCourses(ctx)
	if err == nil {
		var n int64
		if n, err = a.room.Queued(ctx, courses); err == nil {
			a.m.queued.Set(float64(n))
			return
		}
	}
	if ctx.Err() == nil {
		a.log.Warn("counting queued students", "err", err)
	}
}

// Tick processes every active course once (several batches each while work
// remains) and reports whether any work was done.
func (a *Admitter) Tick(ctx context.Context) bool {
	courses, err := a.room.ActiveCourses(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("listing active courses", "err", err)
		}
		return false
	}
	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, a.o.Concurrency)
		mu   sync.Mutex
		busy bool
	)
	for _, c := range courses {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if a.course(ctx, c) {
				mu.Lock()
				busy = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return busy
}

// course runs batches of one course while it has work, up to a bound so that
// other courses get their turn.
func (a *Admitter) course(ctx context.Context, course int64) (worked bool) {
	for range 20 {
		if ctx.Err() != nil {
			return worked
		}
		did, more := a.batch(ctx, course)
		worked = worked || did
		if !more {
			return worked
		}
	}
	return worked
}

// batch takes, grants and completes one batch. did: students were processed;
// more: the queue may hold more.
func (a *Admitter) batch(ctx context.Context, course int64) (did, more bool) {
	a.mu.Lock()
	full := a.isFull[course]
	a.mu.Unlock()
	size := a.pacer.Size()
	if full {
		size = a.o.FullBatch
	}
	a.m.batchSize.Set(float64(size))
	b, err := a.room.Take(ctx, course, size, a.o.Lease)
	if errors.Is(err, surge.ErrLeaseBusy) {
		return false, false
	}
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("taking batch", "course", course, "err", err)
		}
		return false, false
	}
	if b.Moved > 0 {
		// Known full, no seat freed: moved to the waiting list in Redis.
		a.m.full.Add(float64(b.Moved))
		a.m.batches.WithLabelValues("moved").Inc()
		// Only the waiters up to the highest ticket moved look again.
		a.publish(ctx, surge.Progress{Course: course, Decided: b.Moved, Through: b.MovedThrough})
		return true, b.Moved >= size
	}
	if b.Token == 0 || len(b.Candidates) == 0 {
		if b.Token != 0 {
			a.finish(ctx, b, nil) // release the empty lease
		}
		return false, false
	}
	if a.o.AfterTake != nil {
		if err := a.o.AfterTake(ctx, b); err != nil {
			a.log.Warn("abandoning batch (test hook)", "course", course, "token", b.Token, "err", err)
			return false, false
		}
	}
	// From here the batch is finished even if ctx ends: shutdown must not
	// strand it. Everything is bounded by the lease.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.o.Lease)
	defer cancel()
	if ctx.Err() != nil {
		a.release(bctx, b)
		return false, false
	}
	// The transaction must end well before the lease so that a commit never
	// lands after another admitter retook the batch (the fence check in the
	// database refuses it anyway).
	gctx, gcancel := context.WithTimeout(bctx, a.o.Lease*3/4)
	start := time.Now()
	res, err := a.store.Grant(gctx, course, b.Token, b.Candidates)
	gcancel()
	took := time.Since(start)
	a.m.grantTime.Observe(took.Seconds())
	a.m.grantSum.Observe(took.Seconds())
	var outcomes map[int64]surge.Outcome
	switch {
	case errors.Is(err, surge.ErrStaleFence):
		var se *surge.StaleFenceError
		if errors.As(err, &se) {
			healed, herr := a.room.Heal(bctx, b, se.Fence)
			if herr != nil {
				a.log.Warn("checking ticket counter against the fence", "course", course, "token", b.Token, "fence", se.Fence, "err", herr)
			}
			if healed {
				// Redis went back in time: the counter moved to a new epoch
				// and the batch was handed back; the next one grants.
				a.log.Warn("ticket counter was behind the database's fence: moved to a new epoch", "course", course, "token", b.Token, "fence", se.Fence)
				a.m.batches.WithLabelValues("healed").Inc()
				return true, true
			}
		}
		// A newer admitter granted meanwhile: our lease is gone, so are our students.
		a.m.batches.WithLabelValues("stale").Inc()
		return true, false
	case errors.Is(err, surge.ErrCourseNotFound):
		outcomes = make(map[int64]surge.Outcome, len(b.Candidates))
		for _, c := range b.Candidates {
			outcomes[c.StudentID] = surge.OutcomeUnknown
		}
	case err != nil:
		a.pacer.Observe(len(b.Candidates), took, true)
		a.m.batches.WithLabelValues("error").Inc()
		a.log.Warn("granting seats", "course", course, "token", b.Token, "students", len(b.Candidates), "err", err)
		a.release(bctx, b)
		return false, false
	default:
		a.pacer.Observe(len(b.Candidates), took, false)
		outcomes = res.Outcomes()
		a.m.granted.Add(float64(len(res.Granted)))
		a.m.full.Add(float64(len(res.Full)))
		a.mu.Lock()
		if res.SeatsLeft == 0 {
			a.isFull[course] = true
		} else {
			delete(a.isFull, course)
		}
		a.mu.Unlock()
	}
	a.m.batches.WithLabelValues("ok").Inc()
	a.log.Debug("batch granted", "course", course, "token", b.Token, "offered", len(b.Candidates),
		"granted", res.Granted, "full", len(res.Full), "already", res.AlreadyEnrolled, "seatsLeft", res.SeatsLeft)
	if a.finish(bctx, b, outcomes) {
		p := surge.Progress{Course: course, Decided: len(outcomes)}
		for _, c := range b.Candidates {
			p.Through = max(p.Through, c.Ticket)
		}
		a.publish(bctx, p)
	}
	return true, len(b.Candidates) >= size
}

// publish announces a decided batch once Redis shows its outcomes.
func (a *Admitter) publish(ctx context.Context, p surge.Progress) {
	if err := a.room.Publish(ctx, p); err != nil && ctx.Err() == nil {
		// Waiters still answer at the end of their wait.
		a.log.Warn("publishing progress", "course", p.Course, "err", err)
	}
}

// finish records outcomes and gives back the seats of students who left the
// queue while their batch was in flight, still under the lease (Complete
// keeps it when there are seats to give back), then releases the lease. It
// reports whether the outcomes are recorded.
func (a *Admitter) finish(ctx context.Context, b surge.Batch, outcomes map[int64]surge.Outcome) bool {
	left, err := a.room.Complete(ctx, b, outcomes)
	if err != nil && ctx.Err() == nil {
		// Completing a batch again answers as the first run did: safe to retry.
		left, err = a.room.Complete(ctx, b, outcomes)
	}
	if err != nil {
		// The grants are committed; the lease expires and the next admitter
		// finds these students already enrolled and records it.
		a.log.Warn("completing batch", "course", b.Course, "token", b.Token, "err", err)
		return false
	}
	if len(left) > 0 {
		a.log.Debug("seats of students who left while in flight", "course", b.Course, "students", left)
		if a.o.BeforeGiveBack != nil {
			a.o.BeforeGiveBack(ctx, b)
		}
	}
	if len(left) == 0 {
		return true
	}
	tickets := make(map[int64]int64, len(b.Candidates))
	for _, c := range b.Candidates {
		tickets[c.StudentID] = c.Ticket
	}
	freed := false
	for _, s := range left {
		ok, err := a.store.GiveBack(ctx, b.Course, s, tickets[s], b.Token)
		if err != nil {
			a.log.Error("giving back the seat of a student who left", "course", b.Course, "student", s, "err", err)
			continue
		}
		freed = freed || ok
	}
	if freed {
		if err := a.room.SeatsFreed(ctx, b.Course); err != nil {
			a.log.Warn("waking admitter", "course", b.Course, "err", err)
		}
	}
	a.release(ctx, b)
	return true
}

func (a *Admitter) release(ctx context.Context, b surge.Batch) {
	if err := a.room.Release(ctx, b); err != nil {
		// The lease expires by itself; the students return then.
		a.log.Warn("releasing lease", "course", b.Course, "token", b.Token, "err", err)
	}
}
