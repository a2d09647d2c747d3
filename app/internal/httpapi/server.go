// Package httpapi is the HTTP API of the service: routes, handlers and
// middleware. Dependencies come in explicitly through Deps; the interfaces
// below are the small views this package needs of them.
package httpapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/surge-dev/surge/app/internal/surge"
)

// Store is the durable store (PostgreSQL writer).
type Store interface {
	Ping(ctx context.Context) error
	CreateCourse(ctx context.Context, code, title string, capacity int, opensAt time.Time) (surge.Course, error)
	UpdateCourse(ctx context.Context, id int64, u surge.CourseUpdate) (surge.Course, error)
	ExistingStudentNos(ctx context.Context, nos []string) (map[string]bool, error)
	ImportStudents(ctx context.Context, students []surge.NewStudent) (int, error)
	StudentCredentials(ctx context.Context, studentNo string) (id int64, hash string, found bool, err error)
	Enrollments(ctx context.Context, studentID int64) ([]surge.Enrollment, error)
	CancelEnrollment(ctx context.Context, studentID, courseID int64) (bool, error)
}

// Courses is the cached course catalogue (Redis in front of the replica).
type Courses interface {
	Courses(ctx context.Context) ([]surge.Course, error)
	Course(ctx context.Context, id int64) (surge.Course, error)
	Prime(ctx context.Context, c surge.Course) error
	Invalidate(ctx context.Context, id int64) error
}

// Room is the waiting room (Redis).
type Room interface {
	Ping(ctx context.Context) error
	Seed(ctx context.Context, course int64) error
	Join(ctx context.Context, course, student int64) (surge.Status, error)
	Status(ctx context.Context, course, student int64) (surge.Status, error)
	Leave(ctx context.Context, course, student int64) (bool, error)
	Cancelled(ctx context.Context, course, student int64) (bool, error)
	CancelEnrolled(ctx context.Context, course, student int64) (bool, int64, error)
	RestoreEnrolled(ctx context.Context, course, student, ticket int64) error
	SeatsFreed(ctx context.Context, course int64) error
	DecidedThrough(ctx context.Context, course int64) (int64, error)
}

// Sessions is the session store (Redis).
type Sessions interface {
	Create(ctx context.Context, studentID int64) (string, error)
	Student(ctx context.Context, id string) (int64, error)
	Delete(ctx context.Context, id string) error
	RevokeAll(ctx context.Context, studentID int64) (int, error)
	TTL() time.Duration
	Failures(ctx context.Context, keys ...string) ([]int64, []time.Duration, error)
	AddFailure(ctx context.Context, windows map[string]time.Duration) error
}

// Deps are everything the server needs.
type Deps struct {
	Store    Store
	Courses  Courses
	Room     Room
	Sessions Sessions
	// Materials and Media serve course materials; either nil: the
	// materials routes answer 404 (not enabled).
	Materials Materials
	Media     MediaStorage
	Logger    *slog.Logger
	// Registerer receives the HTTP metrics; nil: not exported.
	Registerer prometheus.Registerer

	AdminToken   string
	CookieSecure bool
	BcryptCost   int // bcrypt.MinCost..bcrypt.MaxCost; default bcrypt.DefaultCost
	MaxInflight  int // default 1000
	// OverloadWait: a request past MaxInflight waits this long for a slot,
	// in arrival order (after the parked requests that woke), before it is
	// refused with 503 (SURGE_OVERLOAD_WAIT,
	// default 1s; negative: refused at once). At most 4×MaxInflight wait.
	// A rush's first second is a burst that the instance clears in well
	// under a second: queueing it briefly answers it instead of sending
	// every student into a retry.
	OverloadWait   time.Duration
	RequestTimeout time.Duration // default 5s
	Now            func() time.Time

	// AdminTokenFunc, when set, is asked for the current admin token on
	// every admin request (it caches; a rotated secret applies without a
	// restart) and AdminToken is not used. An error refuses the request.
	AdminTokenFunc func(ctx context.Context) (string, error)
	// TrustCloudFront: every request reaches the app through CloudFront
	// (the load balancer accepts nothing else), so CloudFront's
	// CloudFront-Viewer-Address header names the client. Otherwise the
	// header is ignored (a client could forge it) and the peer address is
	// the client.
	TrustCloudFront bool
	// LoginWorkers is how many password checks run at once; default half
	// the cores (at least 1), so that sign-ins never take every core.
	LoginWorkers int
	// LoginQueue bounds the sign-ins in progress (checking or waiting for a
	// worker), outside MaxInflight; past it a sign-in is refused with 503
	// and Retry-After. Default 8 per worker.
	LoginQueue int
	// LoginAccountLimit: failed sign-ins per student number per 5 minutes
	// before 429 (default 10). LoginClientLimit: failed sign-ins per client
	// address (IPv6: per /64) per minute before 429 (default 100).
	LoginAccountLimit int
	LoginClientLimit  int
	// Progress is the instance's subscription to the admitters' progress;
	// nil: join and status never wait (a wait is ignored).
	Progress ProgressFeed
	// MaxWait caps the wait a join or status request may ask for
	// (SURGE_MAX_WAIT); default 4s. MaxWaiters bounds the requests waiting
	// at once (SURGE_MAX_WAITERS); past it a request answers at once.
	// Default DefaultMaxWaiters: a parked request gives its in-flight slot
	// back while it waits.
	MaxWait    time.Duration
	MaxWaiters int
}

// DefaultMaxWaiters is MaxWaiters (SURGE_MAX_WAITERS) when unset. A parked
// request holds no in-flight slot, only its connection's goroutine and a
// timer (a few KB): 10,000 is the students of a big rush on one instance
// within a few tens of MB, well inside the smallest instance type's memory.
const DefaultMaxWaiters = 10000

// Server is the API as an http.Handler.
type Server struct {
	d          Deps
	handler    http.Handler
	adminSum   [32]byte
	dummyHash  []byte        // compared against for unknown students (same timing)
	hashSlots  chan struct{} // bounds concurrent bcrypt work (LoginWorkers)
	loginSlots chan struct{} // bounds sign-ins in progress (LoginQueue)
	inflight   *gate         // bounds API requests in flight (MaxInflight)
	active     atomic.Int64  // API requests being served
	draining   atomic.Bool
	drainCh    chan struct{} // closed by Drain: waiters answer at once
	drainOnce  sync.Once
	hub        *hub // nil without Deps.Progress
	m          httpMetrics
	cookieName string
}

// NewServer builds the API. It fails only on invalid Deps.
func NewServer(d Deps) (*Server, error) {
	var errs []error
	if d.Store == nil || d.Courses == nil || d.Room == nil || d.Sessions == nil {
		errs = append(errs, errors.New("httpapi: Store, Courses, Room and Sessions are required"))
	}
	if d.AdminToken == "" && d.AdminTokenFunc == nil {
		errs = append(errs, errors.New("httpapi: AdminToken is required"))
	}
	if d.BcryptCost == 0 {
		d.BcryptCost = bcrypt.DefaultCost
	}
	if d.BcryptCost < bcrypt.MinCost || d.BcryptCost > bcrypt.MaxCost {
		errs = append(errs, errors.New("httpapi: BcryptCost out of range"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.MaxInflight <= 0 {
		d.MaxInflight = 1000
	}
	if d.OverloadWait == 0 {
		d.OverloadWait = time.Second
	}
	if d.RequestTimeout <= 0 {
		d.RequestTimeout = 5 * time.Second
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.LoginWorkers <= 0 {
		d.LoginWorkers = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if d.LoginQueue <= 0 {
		d.LoginQueue = 8 * d.LoginWorkers
	}
	if d.LoginAccountLimit <= 0 {
		d.LoginAccountLimit = 10
	}
	if d.LoginClientLimit <= 0 {
		d.LoginClientLimit = 100
	}
	if d.MaxWait <= 0 {
		d.MaxWait = 4 * time.Second
	}
	if d.MaxWaiters <= 0 {
		d.MaxWaiters = DefaultMaxWaiters
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("not a real password"), d.BcryptCost)
	if err != nil {
		return nil, err
	}
	s := &Server{
		d:          d,
		adminSum:   sha256.Sum256([]byte(d.AdminToken)),
		dummyHash:  dummy,
		hashSlots:  make(chan struct{}, d.LoginWorkers),
		loginSlots: make(chan struct{}, d.LoginQueue),
		inflight:   newGate(d.MaxInflight, 4*d.MaxInflight),
		m:          newHTTPMetrics(d.Registerer, d.Logger),
		cookieName: "surge_session",
		drainCh:    make(chan struct{}),
	}
	if d.Progress != nil {
		s.hub = newHub(d.Progress, d.MaxWaiters, d.Registerer, d.Logger)
	}
	mux := http.NewServeMux()
	s.routes(mux)
	s.handler = s.recoverer(mux)
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Drain makes /healthz and /readyz answer 503 and new API requests 503 with
// Retry-After, while requests already running finish; waiting requests
// answer at once with the state they last read.
func (s *Server) Drain() {
	s.draining.Store(true)
	s.drainOnce.Do(func() { close(s.drainCh) })
}

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// Active is the number of API requests being served (health checks excluded).
func (s *Server) Active() int64 { return s.active.Load() }
