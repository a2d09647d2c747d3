// Package cli is the surge command: `surge serve`, `surge migrate` and
// `surge version`. It wires configuration, stores, the HTTP server and the
// admitter together and owns the process lifecycle (start, drain, exit).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/surge-dev/surge/app/internal/admitter"
	"github.com/surge-dev/surge/app/internal/cache"
	"github.com/surge-dev/surge/app/internal/config"
	"github.com/surge-dev/surge/app/internal/httpapi"
	"github.com/surge-dev/surge/app/internal/media"
	"github.com/surge-dev/surge/app/internal/postgres"
	"github.com/surge-dev/surge/app/internal/redisconn"
	"github.com/surge-dev/surge/app/internal/sessions"
	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/version"
	"github.com/surge-dev/surge/app/internal/waitroom"
)

const usage = `usage: surge <command>

commands:
  serve     run the HTTP API and the admitter (as the app's database role;
            with SURGE_DATABASE_URL it applies migrations first)
  migrate   apply the embedded database migrations, create or update the
            app's database role, and exit (the only command using the
            master credentials)
  version   print the source digest the binary was built from and the Go version

Configuration is read from SURGE_* environment variables (see docs/app.md).`

// Run executes the command in args[1]. Cancelling ctx (SIGTERM) drains a
// running server; Run returns nil after a clean drain.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprintln(stderr, usage)
		return errors.New("missing command")
	}
	var cmd config.Command
	switch args[1] {
	case "serve":
		cmd = config.Serve
	case "migrate":
		cmd = config.Migrate
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	case "version":
		if len(args) > 2 {
			return errors.New("version takes no arguments")
		}
		fmt.Fprintln(stdout, Version())
		return nil
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", args[1])
	}
	if len(args) > 2 {
		return fmt.Errorf("%s takes no arguments (configuration comes from the environment)", args[1])
	}
	cfg, err := config.Load(getenv, cmd)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	var creds credentials
	if cfg.NeedsSecrets() {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		client, err := config.NewSecretsClient(sctx, cfg.AWSRegion)
		if err != nil {
			return err
		}
		if err := config.ResolveSecrets(sctx, &cfg, client); err != nil {
			return err
		}
		if arn := cfg.DatabaseConnectSecretARN(); arn != "" {
			creds.db = config.NewRotatingSecret(client, arn, time.Minute).DatabaseCredentials
		}
		if cfg.RedisSecretARN != "" && cmd == config.Serve {
			creds.redis = config.NewRotatingSecret(client, cfg.RedisSecretARN, time.Minute).RedisCredentials
		}
		if cfg.AdminTokenARN != "" && cmd == config.Serve {
			creds.adminToken = config.NewRotatingSecret(client, cfg.AdminTokenARN, time.Minute).AdminToken
		}
	}
	switch cmd {
	case config.Migrate:
		return migrate(ctx, cfg, creds, log, time.Minute)
	default:
		return serve(ctx, cfg, creds, log)
	}
}

// credentials are re-read from Secrets Manager for every new connection
// (cached a minute) when the configuration came from secrets: rotation
// needs no restart. nil: the URLs' credentials.
type credentials struct {
	db    func(ctx context.Context) (user, password string, err error)
	redis func(ctx context.Context) (user, password string, err error)
	// adminToken is the current admin token (a rotation applies within a
	// minute); nil: the static cfg.AdminToken.
	adminToken func(ctx context.Context) (string, error)
}

// Version is what `surge version` prints: the source digest stamped by the
// build, the Go version and the platform.
func Version() string {
	return fmt.Sprintf("surge %s %s %s/%s", version.Source, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// migrate applies the migrations, retrying while the database is not
// reachable yet (instances may boot before the database accepts
// connections).
func migrate(ctx context.Context, cfg config.Config, creds credentials, log *slog.Logger, patience time.Duration) error {
	pool, err := postgres.NewPool(ctx, cfg.DatabaseURL, postgres.Options{MaxConns: 2, Credentials: creds.db})
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migratePool(ctx, pool, log, patience); err != nil {
		return err
	}
	if cfg.AppRoleName == "" {
		return nil
	}
	role := postgres.AppRole{Name: cfg.AppRoleName, Password: cfg.AppRolePassword}
	if err := postgres.EnsureAppRole(ctx, pool, role); err != nil {
		return err
	}
	log.Info("database app role ensured", "role", role.Name) // never the password
	return nil
}

// awaitSchema is what serve does instead of migrating when it connects as
// the app role (which cannot): wait until the database answers, then refuse
// to run on a schema older than the binary (`surge migrate` runs first).
func awaitSchema(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, patience time.Duration) error {
	deadline := time.Now().Add(patience)
	for {
		pending, err := postgres.PendingMigrations(ctx, pool)
		if err == nil && len(pending) > 0 {
			return fmt.Errorf("database schema is behind this binary (pending: %s): run `surge migrate` first", strings.Join(pending, ", "))
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) || surge.IsBug(err) {
			return fmt.Errorf("checking database schema: %w", err)
		}
		log.Warn("database not ready, retrying", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("checking database schema: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

func migratePool(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, patience time.Duration) error {
	deadline := time.Now().Add(patience)
	for {
		applied, err := postgres.Migrate(ctx, pool)
		if err == nil {
			log.Info("database migrated", "applied", applied)
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) || surge.IsBug(err) {
			return fmt.Errorf("migrating database: %w", err)
		}
		log.Warn("database not ready for migrations, retrying", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("migrating database: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

func serve(ctx context.Context, cfg config.Config, creds credentials, log *slog.Logger) error {
	// Dependencies are created lazily: a database or Redis that is down at
	// start is reported by /readyz, not by a crash loop (migrations aside).
	writer, err := postgres.NewPool(ctx, cfg.DatabaseURL, postgres.Options{Credentials: creds.db})
	if err != nil {
		return err
	}
	defer writer.Close()
	var reader *pgxpool.Pool
	if cfg.DatabaseReadURL != "" {
		if reader, err = postgres.NewPool(ctx, cfg.DatabaseReadURL, postgres.Options{Credentials: creds.db}); err != nil {
			return err
		}
		defer reader.Close()
	}
	if cfg.DatabaseAppSecretARN != "" {
		err = awaitSchema(ctx, writer, log, 2*time.Minute)
	} else {
		// Local mode (a URL): the user may own the schema, migrate as before.
		err = migratePool(ctx, writer, log, 2*time.Minute)
	}
	if err != nil {
		return err
	}
	// go-redis logs dial failures through a process-wide logger; route them
	// to our JSON log at debug level (every failure already surfaces as a
	// 503 and a warning where it matters).
	redis.SetLogger(redisLogger{log})
	redisOpts := redisconn.Options{URL: cfg.RedisURL, Mode: cfg.RedisMode, Credentials: creds.redis}
	rdb, err := redisconn.New(redisOpts)
	if err != nil {
		return err
	}
	defer rdb.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	store := postgres.New(writer, reader)
	room := waitroom.New(rdb, cfg.RedisPrefix, store)
	// One subscription per instance for every waiting student.
	feed := room.Feed(ctx)
	defer func() { _ = feed.Close() }()
	// Sessions verified once are answered without Redis while the
	// revocation subscription is alive.
	sess := sessions.New(rdb, cfg.RedisPrefix, cfg.SessionTTL)
	watch := sess.Watch(ctx)
	defer func() { _ = watch.Close() }()
	deps := httpapi.Deps{
		Store:           store,
		Courses:         cache.New(store, rdb, cfg.RedisPrefix, cache.Options{Logger: log}),
		Room:            room,
		Sessions:        sess,
		Logger:          log,
		Registerer:      reg,
		AdminToken:      cfg.AdminToken,
		AdminTokenFunc:  creds.adminToken,
		CookieSecure:    cfg.CookieSecure,
		TrustCloudFront: cfg.TrustCloudFront,
		BcryptCost:      cfg.BcryptCost,
		MaxInflight:     cfg.MaxInflight,
		OverloadWait:    cfg.OverloadWait,
		RequestTimeout:  cfg.RequestTimeout,
		Progress:        feed,
		MaxWait:         cfg.MaxWait,
		MaxWaiters:      cfg.MaxWaiters,
	}
	if cfg.MediaEnabled() {
		m, err := newMedia(ctx, cfg)
		if err != nil {
			return err
		}
		deps.Materials, deps.Media = store, m
	}
	srv, err := httpapi.NewServer(deps)
	if err != nil {
		return err
	}
	// The admitter decides every waiting student's answer: it has its own
	// connections, so its round trips never wait in the pool behind the
	// thousands of requests of a rush (one per course it works on in
	// parallel, one for the sweep and the count).
	admOpts := redisOpts
	admOpts.PoolSize = admitterConcurrency + 2
	admRdb, err := redisconn.New(admOpts)
	if err != nil {
		return err
	}
	defer admRdb.Close()
	adm := admitter.New(waitroom.New(admRdb, cfg.RedisPrefix, store), store, admitter.Options{
		Concurrency: admitterConcurrency,
		MaxBatch:    cfg.AdmitBatch,
		Interval:    cfg.AdmitInterval,
		Lease:       cfg.AdmitLease,
		Logger:      log,
		Registerer:  reg,
	})
	return runServer(ctx, cfg, log, srv, adm, reg)
}

// admitterConcurrency is how many courses an instance's admitter works on
// at once.
const admitterConcurrency = 4

// runServer serves until ctx ends, then drains: health checks turn 503, new
// API requests are refused with 503 + Retry-After, the admitter finishes or
// hands back its batch, running requests finish, and only then the listener
// closes. Everything within cfg.DrainTimeout.
func runServer(ctx context.Context, cfg config.Config, log *slog.Logger, srv *httpapi.Server, adm *admitter.Admitter, reg *prometheus.Registry) error {
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.ListenAddr, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 2)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info("http server listening", "addr", ln.Addr().String())

	var ms *http.Server
	if cfg.MetricsAddr != "off" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			_ = hs.Close()
			return fmt.Errorf("listening on %s: %w", cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		ms = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
		go func() { serveErr <- ms.Serve(mln) }()
		log.Info("metrics server listening", "addr", mln.Addr().String())
	}

	admCtx, stopAdmitter := context.WithCancel(context.WithoutCancel(ctx))
	var admDone sync.WaitGroup
	admDone.Go(func() { adm.Run(admCtx) })

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		stopAdmitter()
		admDone.Wait()
		return fmt.Errorf("serving http: %w", err)
	}

	start := time.Now()
	deadline := start.Add(cfg.DrainTimeout)
	srv.Drain()
	log.Info("draining", "timeout", cfg.DrainTimeout.String())
	stopAdmitter()
	admDone.Wait() // bounded by the lease: a taken batch is finished or handed back
	for srv.Active() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	err = hs.Shutdown(sctx)
	if ms != nil {
		_ = ms.Shutdown(sctx)
	}
	if err != nil {
		return fmt.Errorf("draining: %w (%d requests still running)", err, srv.Active())
	}
	log.Info("drained", "took", time.Since(start).String())
	return nil
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client", "msg", fmt.Sprintf(format, v...))
}

// newMedia builds the course materials' storage: an S3 client with the
// default credential chain (the instance role, which may write only under
// the materials prefix) and the CloudFront URL signer.
func newMedia(ctx context.Context, cfg config.Config) (*media.Service, error) {
	key, err := media.ParseSigningKey(cfg.MediaSigningKey)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.AWSRegion))
	if err != nil {
		return nil, fmt.Errorf("loading aws config: %w", err)
	}
	return media.New(media.Options{
		S3: s3.NewFromConfig(awsCfg), Bucket: cfg.MediaBucket, BaseURL: cfg.MediaBaseURL,
		// The SDK presigns virtual-hosted-style URLs.
		UploadOrigin: "https://" + cfg.MediaBucket + ".s3." + cfg.AWSRegion + ".amazonaws.com",
		KeyPairID:    cfg.MediaKeyPairID, SigningKey: key,
		UploadTTL: cfg.MediaUploadTTL, URLTTL: cfg.MediaURLTTL,
	})
}
