package testenv

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/surge-dev/surge/app/internal/admitter"
	"github.com/surge-dev/surge/app/internal/cache"
	"github.com/surge-dev/surge/app/internal/httpapi"
	"github.com/surge-dev/surge/app/internal/postgres"
	"github.com/surge-dev/surge/app/internal/redisconn"
	"github.com/surge-dev/surge/app/internal/sessions"
	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/waitroom"
)

// AdminToken is the admin token of every test app.
const AdminToken = "test-admin-token-0123456789abcdefghij"

// Shared is the state several app instances share: one database, one Redis
// key prefix on the standalone server or the cluster.
type Shared struct {
	DBURL  string // as the superuser: for test set-up and checks
	Redis  redis.UniversalClient
	Prefix string
	Mode   redisconn.Mode

	// AppDBURL is the same database as AppRoleName, the least-privileged
	// role production apps connect as; every App uses it.
	AppDBURL string
}

// NewShared creates a fresh database and a Redis prefix on the standalone
// server.
func (e *Env) NewShared(t testing.TB) Shared {
	t.Helper()
	return e.NewSharedMode(t, redisconn.Standalone)
}

// NewSharedMode creates a fresh database and a Redis prefix on the
// standalone server or the cluster; the apps built on it use that mode.
func (e *Env) NewSharedMode(t testing.TB, mode redisconn.Mode) Shared {
	t.Helper()
	rdb, prefix := e.RedisClientMode(t, mode)
	db := e.Database(t)
	return Shared{DBURL: db, AppDBURL: AsUser(db, AppRoleName), Redis: rdb, Prefix: prefix, Mode: mode}
}

// AppOptions tune one instance.
type AppOptions struct {
	NoAdmitter   bool // do not start the admitter goroutine
	CookieSecure bool
	Admitter     admitter.Options
	MaxInflight  int
	Now          func() time.Time
	Logger       *slog.Logger
	// AdminTokenFunc replaces the fixed AdminToken (rotation tests).
	AdminTokenFunc func(ctx context.Context) (string, error)
	// RedisAddr, when set, is where this instance reaches Redis (a Proxy in
	// front of the shared standalone server, to inject faults).
	RedisAddr string
	// RedisHook, when set, observes this instance's Redis round trips.
	RedisHook redis.Hook
	// ServerTracer also observes the statements of the request path.
	ServerTracer pgx.QueryTracer
	// BcryptCost of the server; default bcrypt.MinCost.
	BcryptCost int
	// Media, when set, enables course materials on this object store and
	// CDN; UploadTTL is the presigned POSTs' lifetime (default 5m).
	Media     *Media
	UploadTTL time.Duration
	// Deps, when set, adjusts the server's dependencies before it is built.
	Deps func(*httpapi.Deps)
}

// tracers fans one pgx trace out to several tracers.
type tracers []pgx.QueryTracer

func (ts tracers) TraceQueryStart(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	for _, t := range ts {
		ctx = t.TraceQueryStart(ctx, c, d)
	}
	return ctx
}

func (ts tracers) TraceQueryEnd(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryEndData) {
	for _, t := range ts {
		t.TraceQueryEnd(ctx, c, d)
	}
}

// App is one app instance: server, admitter and their own traced pools.
type App struct {
	Server   *httpapi.Server
	HTTP     *httptest.Server
	Store    *postgres.Store
	Room     *waitroom.Room
	Admitter *admitter.Admitter
	// ServerSQL counts the statements of the request path, AdmitterSQL those
	// of the admitter (separate pools, so they can be told apart).
	ServerSQL   *Counter
	AdmitterSQL *Counter
	stop        context.CancelFunc
	done        sync.WaitGroup
}

// NewApp builds an instance on sh; everything is closed at test end.
func (e *Env) NewApp(t testing.TB, sh Shared, o AppOptions) *App {
	t.Helper()
	a := &App{ServerSQL: NewCounter(), AdmitterSQL: NewCounter()}
	var serverTracer pgx.QueryTracer = a.ServerSQL
	if o.ServerTracer != nil {
		serverTracer = tracers{a.ServerSQL, o.ServerTracer}
	}
	dbURL := sh.AppDBURL
	if dbURL == "" {
		dbURL = sh.DBURL
	}
	serverPool := e.Pool(t, dbURL, serverTracer)
	admPool := e.Pool(t, dbURL, a.AdmitterSQL)
	a.Store = postgres.New(serverPool, nil)
	admStore := postgres.New(admPool, nil)
	// Each instance has its own Redis client (connection pool), as separate
	// processes would.
	rdb, _ := e.RedisClientMode(t, cmp.Or(sh.Mode, redisconn.Standalone))
	if o.RedisAddr != "" {
		rdb = RedisClientAt(t, o.RedisAddr)
	}
	if o.RedisHook != nil {
		rdb.AddHook(o.RedisHook)
	}
	a.Room = waitroom.New(rdb, sh.Prefix, a.Store)
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cost := o.BcryptCost
	if cost == 0 {
		cost = bcrypt.MinCost
	}
	// The instance's one progress subscription, as in production.
	feed := a.Room.Feed(context.Background())
	t.Cleanup(func() { _ = feed.Close() })
	sess := sessions.New(rdb, sh.Prefix, time.Hour)
	watch := sess.Watch(context.Background())
	t.Cleanup(func() { _ = watch.Close() })
	deps := httpapi.Deps{
		Progress:     feed,
		Store:        a.Store,
		Courses:      cache.New(a.Store, rdb, sh.Prefix, cache.Options{Logger: log}),
		Room:         a.Room,
		Sessions:     sess,
		Logger:       log,
		Registerer:   prometheus.NewRegistry(),
		AdminToken:   AdminToken,
		CookieSecure: o.CookieSecure,
		BcryptCost:   cost,
		MaxInflight:  o.MaxInflight,
		Now:          o.Now,

		AdminTokenFunc: o.AdminTokenFunc,
	}
	if o.Media != nil {
		deps.Materials = a.Store
		deps.Media = o.Media.Service(t, o.UploadTTL)
	}
	if o.Deps != nil {
		o.Deps(&deps)
	}
	srv, err := httpapi.NewServer(deps)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	a.Server = srv
	a.HTTP = httptest.NewServer(srv)
	t.Cleanup(a.HTTP.Close)
	ao := o.Admitter
	if ao.Logger == nil {
		ao.Logger = log
	}
	admRoom := waitroom.New(rdb, sh.Prefix, admStore)
	a.Admitter = admitter.New(admRoom, admStore, ao)
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	if !o.NoAdmitter {
		a.done.Go(func() { a.Admitter.Run(ctx) })
	}
	t.Cleanup(a.StopAdmitter)
	return a
}

// StopAdmitter stops the admitter goroutine and waits for it.
func (a *App) StopAdmitter() {
	a.stop()
	a.done.Wait()
}

// Client is an HTTP client with its own cookie jar (one student).
type Client struct {
	T    testing.TB
	Base string
	HTTP *http.Client
}

// NewClient returns a client of base (e.g. app.HTTP.URL) with its own
// cookie jar.
func (e *Env) NewClient(t testing.TB, base string) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{T: t, Base: base, HTTP: &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: e.Transport}}
}

// WithBase returns a client with the same cookies talking to another instance.
func (c *Client) WithBase(base string) *Client {
	return &Client{T: c.T, Base: base, HTTP: c.HTTP}
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r Response) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// ErrorCode returns error.code of an error body.
func (r Response) ErrorCode() string {
	m := r.JSON()
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// Do sends a request; body is JSON-encoded unless it is a string or []byte
// (sent raw). headers are name/value pairs.
func (c *Client) Do(method, path string, body any, headers ...string) (Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return Response{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		return Response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}

// Must is Do that fails the test on a transport error.
func (c *Client) Must(method, path string, body any, headers ...string) Response {
	c.T.Helper()
	r, err := c.Do(method, path, body, headers...)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// Admin sends a request with the admin token.
func (c *Client) Admin(method, path string, body any) Response {
	c.T.Helper()
	return c.Must(method, path, body, "Authorization", "Bearer "+AdminToken)
}

// AdmitterOptions returns fast admitter options for tests with the given
// lease and AfterTake hook.
func AdmitterOptions(lease time.Duration, afterTake func(context.Context, surge.Batch) error) admitter.Options {
	return admitter.Options{Interval: 10 * time.Millisecond, Lease: lease, AfterTake: afterTake}
}
