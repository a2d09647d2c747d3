package rush

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/surge-dev/surge/bench/baseline"
	"github.com/surge-dev/surge/internal/localenv/appproc"
)

// The baseline and the bare handler run in their own processes (like the
// app), started by re-executing the current binary with RUSH_ROLE set, so the
// load generator's CPU is not mixed with theirs and the comparison is fair.
const (
	envRole   = "RUSH_ROLE"
	envListen = "RUSH_LISTEN"
	envDB     = "RUSH_DB_URL"
	envRedis  = "RUSH_REDIS_URL"
	envPool   = "RUSH_POOL"
	// The dbproxy role: where it listens for PostgreSQL clients, where it
	// forwards, and the latency it adds each way.
	envProxyListen   = "RUSH_PROXY_LISTEN"
	envProxyUpstream = "RUSH_PROXY_UPSTREAM"
	envProxyLatency  = "RUSH_PROXY_LATENCY"
)

// extraRoles lets tests add roles (the stub app of the short test).
var extraRoles = map[string]func() error{}

// MaybeRunRole runs a server role and exits when RUSH_ROLE is set; it returns
// at once otherwise. Call it first in main and in TestMain.
func MaybeRunRole() {
	role := os.Getenv(envRole)
	if role == "" {
		return
	}
	var err error
	switch role {
	case "bare":
		err = serveRole(bareHandler(), nil)
	case "baseline":
		err = runBaselineRole()
	case "dbproxy":
		err = runDBProxyRole()
	default:
		if f, ok := extraRoles[role]; ok {
			err = f()
		} else {
			err = fmt.Errorf("unknown %s %q", envRole, role)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rush %s: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// bareHandler is the reference point: net/http with nothing behind it.
func bareHandler() http.Handler {
	body := []byte(`{"ok":true}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
}

func serveRole(h http.Handler, cleanup func()) error {
	l, err := net.Listen("tcp", os.Getenv(envListen))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if cleanup != nil {
		cleanup()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func runBaselineRole() error {
	cfg, err := pgxpool.ParseConfig(os.Getenv(envDB))
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(os.Getenv(envPool)); err == nil && n > 0 {
		cfg.MaxConns = int32(n)
		cfg.MinConns = int32(n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	opt, err := redis.ParseURL(os.Getenv(envRedis))
	if err != nil {
		return err
	}
	opt.PoolSize = 64
	rc := redis.NewClient(opt)
	srv := &baseline.Server{DB: pool, Redis: rc}
	return serveRole(srv.Handler(), func() { pool.Close(); rc.Close() })
}

// runDBProxyRole runs the latency proxy in front of PostgreSQL; its HTTP
// listener only says it is up.
func runDBProxyRole() error {
	d, err := time.ParseDuration(os.Getenv(envProxyLatency))
	if err != nil {
		return fmt.Errorf("%s: %w", envProxyLatency, err)
	}
	lp, err := startLatencyProxy(os.Getenv(envProxyListen), os.Getenv(envProxyUpstream), d)
	if err != nil {
		return err
	}
	return serveRole(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), func() { _ = lp.Close() })
}

// startRole starts a role server on a free port and waits for /healthz (the
// bare handler answers every path).
func startRole(ctx context.Context, role string, env []string, out *os.File) (*appproc.Process, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	addr, err := appproc.FreeAddr()
	if err != nil {
		return nil, "", err
	}
	env = append(env, envRole+"="+role, envListen+"="+addr)
	p, err := appproc.Start(appproc.Options{Bin: self, Env: env, Output: out})
	if err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.WaitReady(wctx, base+"/healthz"); err != nil {
		p.Kill()
		return nil, "", fmt.Errorf("%s role: %w", role, err)
	}
	return p, base, nil
}
