// Package testenv gives integration tests real, throwaway PostgreSQL and
// Redis servers (from the machine's binaries, via internal/localenv): one of
// each per test package, a fresh database and a fresh Redis key prefix per
// test. Test-only; never imported by production code.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/surge-dev/surge/app/internal/postgres"
	"github.com/surge-dev/surge/app/internal/redisconn"
	"github.com/surge-dev/surge/internal/localenv"
)

// Env is the servers shared by one test package.
type Env struct {
	PG    *localenv.Postgres
	Redis *localenv.Redis
	// Transport is shared by every test client: thousands of clients with
	// their own cookie jars, one connection pool.
	Transport *http.Transport
	n         atomic.Int64
	// roleMu serialises EnsureAppRole: roles are cluster-wide, while the
	// migration lock only serialises migrators of one database.
	roleMu sync.Mutex

	// The Redis Cluster (three masters) is started by the first test that
	// asks for one and shared by the package's tests like the standalone
	// server; each test's key prefix keeps them apart.
	clusterOnce sync.Once
	cluster     *localenv.RedisCluster
	clusterErr  error
}

// AppRoleName is the least-privileged role test apps connect as, created in
// every database by Database exactly as `surge migrate` creates it.
const AppRoleName = "surge_app"

// appRolePassword is never checked: the throwaway clusters trust loopback
// connections (tests that check passwords add their own pg_hba rule).
const appRolePassword = "test-app-role-password-0123456789" //nolint:gosec // a throwaway cluster that trusts loopback; never a real credential

// SkipMessage is what a test package prints when it skips its integration
// tests because PostgreSQL or Redis is not installed.
const SkipMessage = "testenv: PostgreSQL or Redis not installed: integration tests skipped; run `make deps` to install them (" + localenv.RequireDepsEnv + "=1 makes this a failure)"

// Main starts the servers, runs the tests and stops the servers. Use it from
// TestMain: `os.Exit(testenv.Main(m, &env))`.
func Main(m *testing.M, env **Env) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4000
	t.MaxIdleConnsPerHost = 2000
	e := &Env{Transport: t}
	var err error
	var wg sync.WaitGroup
	var pgErr, rdErr error
	wg.Go(func() { e.PG, pgErr = localenv.StartPostgres(ctx, localenv.PostgresOptions{NoDurability: true}) })
	wg.Go(func() { e.Redis, rdErr = localenv.StartRedis(ctx, localenv.RedisOptions{}) })
	wg.Wait()
	if err = pgErr; err == nil {
		err = rdErr
	}
	defer func() {
		if e.PG != nil {
			e.PG.Close()
		}
		if e.Redis != nil {
			e.Redis.Close()
		}
		if e.cluster != nil {
			e.cluster.Close()
		}
	}()
	if err != nil {
		if errors.Is(err, localenv.ErrNotInstalled) && !localenv.DepsRequired() {
			// One line, not a failure: `go test ./...` on a machine without
			// the servers still runs every infrastructure test.
			fmt.Println(SkipMessage)
			return 0
		}
		fmt.Fprintln(os.Stderr, "testenv: starting servers:", err)
		return 1
	}
	*env = e
	return m.Run()
}

// Database creates a fresh, migrated database with the app role and returns
// its URL as the superuser.
func (e *Env) Database(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("t%d_%s", e.n.Add(1), sanitize(t.Name()))
	url, err := e.PG.CreateDatabase(ctx, name)
	if err != nil {
		t.Fatalf("creating database: %v", err)
	}
	pool := e.Pool(t, url, nil)
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	e.roleMu.Lock()
	err = postgres.EnsureAppRole(ctx, pool, postgres.AppRole{Name: AppRoleName, Password: appRolePassword})
	e.roleMu.Unlock()
	if err != nil {
		t.Fatalf("creating app role: %v", err)
	}
	return url
}

// AsUser returns url with its user replaced (no password: loopback is
// trusted), e.g. AsUser(url, AppRoleName).
func AsUser(rawURL, user string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(fmt.Sprintf("testenv: parsing %q: %v", rawURL, err))
	}
	u.User = url.User(user)
	return u.String()
}

// Pool opens a pool on url (closed at test end), optionally traced.
func (e *Env) Pool(t testing.TB, url string, tracer pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.NewPool(context.Background(), url, postgres.Options{Tracer: tracer, MaxConns: 20})
	if err != nil {
		t.Fatalf("opening pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// RedisClient returns a client of the standalone server and a key prefix
// unique to this test.
func (e *Env) RedisClient(t testing.TB) (*redis.Client, string) {
	t.Helper()
	c, prefix := e.RedisClientMode(t, redisconn.Standalone)
	return c.(*redis.Client), prefix
}

// RedisClientMode returns a client built as production builds it
// (redisconn.New) of the standalone server or of the package's Redis
// Cluster, and a key prefix unique to this test.
func (e *Env) RedisClientMode(t testing.TB, mode redisconn.Mode) (redis.UniversalClient, string) {
	t.Helper()
	url := e.Redis.URL()
	if mode == redisconn.Cluster {
		url = "redis://" + e.RedisCluster(t).Addrs()[0] + "/0"
	}
	c, err := redisconn.New(redisconn.Options{URL: url, Mode: mode,
		PoolTimeout: 3 * time.Second, // the race detector slows everything tenfold
		PoolSize:    100})
	if err != nil {
		t.Fatalf("redis client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, fmt.Sprintf("t%d:", e.n.Add(1))
}

// RedisCluster returns the package's three-master Redis Cluster, started on
// first use (one to two seconds). Without redis-cli the test is skipped, or
// fails when the dependencies are required.
func (e *Env) RedisCluster(t testing.TB) *localenv.RedisCluster {
	t.Helper()
	e.clusterOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		e.cluster, e.clusterErr = localenv.StartRedisCluster(ctx, localenv.ClusterOptions{})
	})
	if e.clusterErr != nil {
		if errors.Is(e.clusterErr, localenv.ErrNotInstalled) && !localenv.DepsRequired() {
			t.Skipf("redis cluster: %v", e.clusterErr)
		}
		t.Fatalf("starting redis cluster: %v", e.clusterErr)
	}
	return e.cluster
}

// EachMode runs f as a subtest per Redis mode: the waiting room's
// invariants must hold on a standalone Redis and on a cluster alike.
func EachMode(t *testing.T, f func(t *testing.T, mode redisconn.Mode)) {
	t.Helper()
	for _, m := range redisconn.Modes {
		t.Run(string(m), func(t *testing.T) { f(t, m) })
	}
}

// DeleteKeys deletes every key under prefix, as a Redis restart without
// persistence does (one node at a time, one key per DEL: a cluster refuses
// a DEL across slots).
func DeleteKeys(t testing.TB, rdb redis.UniversalClient, prefix string) {
	t.Helper()
	err := redisconn.EachPrimary(context.Background(), rdb, func(ctx context.Context, c *redis.Client) error {
		keys, err := c.Keys(ctx, prefix+"*").Result()
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := c.Del(ctx, k).Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("deleting keys under %s: %v", prefix, err)
	}
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return b.String()
}

// Counter is a pgx tracer that counts statements (BEGIN/COMMIT included).
type Counter struct {
	mu    sync.Mutex
	n     int
	bySQL map[string]int
}

// NewCounter returns an empty counter.
func NewCounter() *Counter { return &Counter{bySQL: map[string]int{}} }

// TraceQueryStart implements pgx.QueryTracer.
func (c *Counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	c.n++
	c.bySQL[firstLine(d.SQL)]++
	c.mu.Unlock()
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (c *Counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Count is the number of statements so far.
func (c *Counter) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// Reset zeroes the counter.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = 0
	c.bySQL = map[string]int{}
}

// BySQL returns counts by the first line of each statement.
func (c *Counter) BySQL() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.bySQL))
	for k, v := range c.bySQL {
		out[k] = v
	}
	return out
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// RoundTrips is a go-redis hook counting a client's round trips to Redis:
// one per command, one per pipeline (a script's EVALSHA that falls back to
// EVAL counts two).
type RoundTrips struct{ n atomic.Int64 }

// N is the round trips so far.
func (h *RoundTrips) N() int64 { return h.n.Load() }

// DialHook implements redis.Hook.
func (h *RoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (h *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (h *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}
