package rush

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/surge-dev/surge/internal/localenv"
	"github.com/surge-dev/surge/internal/localenv/appproc"
)

// Options configure a run beyond the scenario's shape.
type Options struct {
	Scenario Scenario

	// BaseURL targets an already running app (e.g. a deployed stack) instead
	// of starting servers locally; AdminToken is then required. The baseline
	// and the bare calibration only run locally.
	BaseURL    string
	AdminToken string
	// DatabaseURL (optional with BaseURL) enables the SQL invariant checks
	// and pg_stat_statements figures on a remote target; it must name the
	// app's database.
	DatabaseURL string
	// RedisURL (optional with BaseURL) enables the Redis figures.
	RedisURL string

	// SurgeBin is a prebuilt app binary; "" = go build ./app/cmd/surge.
	SurgeBin string
	// NoDurability runs the local PostgreSQL with fsync and
	// synchronous_commit off (faster, not production-like; reported).
	NoDurability bool
	// AppEnv adds SURGE_* variables to every app instance (tuning knobs).
	AppEnv []string
	// OutDir receives report.md, report.json, the SVG plots and profiles.
	OutDir string
	// Profile builds ./app/cmd/surge-local/profiled (the app plus a loopback
	// pprof listener) and fetches CPU and allocation profiles of instance 1
	// during the rush; ProfileURL points at another ".../debug/pprof" (e.g.
	// a remote target that serves it).
	Profile    bool
	ProfileURL string
	// BaselineOnly skips the app's rush (tuning the baseline).
	BaselineOnly bool
	// DBLatency, when set, puts a TCP proxy between the apps (surge and
	// the baseline) and PostgreSQL that adds this delay each way (whole
	// milliseconds); the tool's own monitoring connects directly.
	DBLatency time.Duration
	// RedisShards, when 3 or more, runs the apps on a local Redis Cluster of
	// that many primaries (SURGE_REDIS_MODE=cluster) instead of one Redis;
	// the report adds each shard's commands and CPU. The baseline keeps its
	// sessions in Redis database 1, which a cluster does not have: cluster
	// runs are surge only.
	RedisShards int
	// KeepWork keeps the work dir (server logs) for inspection.
	KeepWork bool
	// Log receives progress lines; nil = discarded.
	Log io.Writer
}

// env is the system under test: app instances, baseline instances, the bare
// handler, and the shared PostgreSQL and Redis.
type env struct {
	local      bool
	work       string
	appBases   []string
	appPids    []int
	metrics    []string
	pprof      string // instance 1's pprof base URL (Options.Profile)
	adminToken string
	appDBURL   string
	appDB      string
	monURL     string // a database other than the app's, for monitoring
	redisURL   string
	pgPid      int
	redisPid   int
	// redisNodes are the primaries (one for a standalone Redis), with
	// their pids, for per-shard figures.
	redisNodes []string
	redisPids  []int
	redisMode  string
	pgSettings map[string]string

	baseBases []string
	basePids  []int
	proxyPid  int // the DB latency proxy's process, 0 without one
	baseDBURL string
	bareBase  string

	apps    []*appproc.Process
	roles   []*appproc.Process
	closers []func() error
}

func newToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (e *env) close(ctx context.Context) error {
	var errs []error
	for _, p := range append(e.apps, e.roles...) {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := p.Drain(dctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	for i := len(e.closers) - 1; i >= 0; i-- {
		errs = append(errs, e.closers[i]())
	}
	return errors.Join(errs...)
}

func remoteEnv(o Options) *env {
	e := &env{appBases: []string{o.BaseURL}, adminToken: o.AdminToken, appDBURL: o.DatabaseURL,
		monURL: o.DatabaseURL, redisURL: o.RedisURL, appDB: dbName(o.DatabaseURL)}
	if o.RedisURL != "" {
		e.redisNodes = []string{o.RedisURL}
	}
	return e
}

func dbName(url string) string {
	if url == "" {
		return ""
	}
	cfg, err := parseDBName(url)
	if err != nil {
		return ""
	}
	return cfg
}

// startLocal starts PostgreSQL, Redis, Scenario.Instances app processes, as
// many baseline processes and the bare handler, all on 127.0.0.1.
func startLocal(ctx context.Context, o Options, logf func(string, ...any)) (_ *env, err error) {
	sc := o.Scenario
	e := &env{local: true, adminToken: newToken()}
	defer func() {
		if err != nil {
			e.close(context.Background())
		}
	}()
	if e.work, err = os.MkdirTemp("", "surge-rush-*"); err != nil {
		return nil, err
	}
	if err := os.Chmod(e.work, 0o755); err != nil {
		return nil, err
	}
	if !o.KeepWork {
		e.closers = append(e.closers, func() error { return os.RemoveAll(e.work) })
	}
	logFile, err := os.Create(filepath.Join(e.work, "servers.log"))
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, logFile.Close)

	bin := o.SurgeBin
	if o.BaselineOnly {
		bin = "" // no app needed
	} else if bin == "" {
		root, err := appproc.ModuleRoot()
		if err != nil {
			return nil, err
		}
		bin = filepath.Join(e.work, "surge")
		pkg := appproc.MainPackage
		if o.Profile {
			pkg = appproc.ProfiledPackage
		}
		logf("building %s", pkg)
		if err := appproc.BuildPackage(ctx, root, pkg, bin, nil); err != nil {
			return nil, err
		}
	}

	logf("starting PostgreSQL (durable=%v) and Redis", !o.NoDurability)
	pg, err := localenv.StartPostgres(ctx, localenv.PostgresOptions{
		Log: logFile, NoDurability: o.NoDurability,
		Settings: map[string]string{"max_connections": "300"},
	})
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, pg.Close)
	e.pgPid, e.pgSettings = pg.Pid(), pg.Settings()
	e.redisMode = "standalone"
	if o.RedisShards > 0 {
		cl, err := localenv.StartRedisCluster(ctx, localenv.ClusterOptions{Masters: o.RedisShards})
		if err != nil {
			return nil, err
		}
		e.closers = append(e.closers, cl.Close)
		for _, n := range cl.Nodes {
			e.redisNodes = append(e.redisNodes, n.URL())
			e.redisPids = append(e.redisPids, n.Pid())
		}
		e.redisURL, e.redisPid, e.redisMode = e.redisNodes[0], e.redisPids[0], "cluster"
		logf("Redis Cluster: %d primaries", len(cl.Nodes))
	} else {
		rd, err := localenv.StartRedis(ctx, localenv.RedisOptions{Log: logFile})
		if err != nil {
			return nil, err
		}
		e.closers = append(e.closers, rd.Close)
		e.redisPid, e.redisURL = rd.Pid(), rd.URL()
		e.redisNodes, e.redisPids = []string{e.redisURL}, []int{e.redisPid}
	}
	e.monURL = pg.URL("postgres")
	e.appDB = "surge"
	if e.appDBURL, err = pg.CreateDatabase(ctx, e.appDB); err != nil {
		return nil, err
	}
	if e.baseDBURL, err = pg.CreateDatabase(ctx, "baseline"); err != nil {
		return nil, err
	}

	appsDB, baseDB := e.appDBURL, e.baseDBURL
	if o.DBLatency > 0 {
		u, err := url.Parse(e.appDBURL)
		if err != nil {
			return nil, fmt.Errorf("database URL: %w", err)
		}
		listen, err := appproc.FreeAddr()
		if err != nil {
			return nil, err
		}
		p, _, err := startRole(ctx, "dbproxy", []string{
			envProxyListen + "=" + listen, envProxyUpstream + "=" + u.Host, envProxyLatency + "=" + o.DBLatency.String(),
		}, logFile)
		if err != nil {
			return nil, err
		}
		e.roles = append(e.roles, p)
		e.proxyPid = p.Pid()
		if appsDB, err = throughProxy(e.appDBURL, listen); err != nil {
			return nil, err
		}
		if baseDB, err = throughProxy(e.baseDBURL, listen); err != nil {
			return nil, err
		}
		logf("PostgreSQL through a latency proxy: +%v each way (%s, pid %d)", o.DBLatency, listen, e.proxyPid)
	}
	common := []string{
		"SURGE_DATABASE_URL=" + appsDB,
		"SURGE_REDIS_URL=" + e.redisURL,
		"SURGE_REDIS_MODE=" + e.redisMode,
		"SURGE_ADMIN_TOKEN=" + e.adminToken,
		"SURGE_COOKIE_SECURE=false",
		"SURGE_PASSWORD_HASH=fast",
	}
	common = append(common, o.AppEnv...)
	if bin != "" {
		logf("surge migrate")
		if err := appproc.Run(ctx, appproc.Options{Bin: bin, Args: []string{"migrate"}, Env: common, Output: logFile}); err != nil {
			return nil, err
		}
	}
	for i := 0; bin != "" && i < sc.Instances; i++ {
		listen, err1 := appproc.FreeAddr()
		metrics, err2 := appproc.FreeAddr()
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		f, err := os.Create(filepath.Join(e.work, fmt.Sprintf("app-%d.log", i+1)))
		if err != nil {
			return nil, err
		}
		e.closers = append(e.closers, f.Close)
		env := append([]string{"SURGE_LISTEN_ADDR=" + listen, "SURGE_METRICS_ADDR=" + metrics}, common...)
		if o.Profile && i == 0 {
			pp, err := appproc.FreeAddr()
			if err != nil {
				return nil, err
			}
			env = append(env, "SURGE_PPROF_ADDR="+pp)
			e.pprof = "http://" + pp + "/debug/pprof"
		}
		p, err := appproc.Start(appproc.Options{Bin: bin, Args: []string{"serve"}, Env: env, Output: f})
		if err != nil {
			return nil, err
		}
		e.apps = append(e.apps, p)
		e.appBases = append(e.appBases, "http://"+listen)
		e.appPids = append(e.appPids, p.Pid())
		e.metrics = append(e.metrics, metrics)
	}
	for i, p := range e.apps {
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err := p.WaitReady(wctx, e.appBases[i]+"/readyz")
		cancel()
		if err != nil {
			return nil, fmt.Errorf("app instance %d: %w (logs in %s)", i+1, err, e.work)
		}
	}
	logf("%d app instances ready", len(e.apps))

	if sc.Baseline {
		pool := sc.BaselinePool
		if pool <= 0 {
			pool = 2
		}
		for i := 0; i < sc.Instances; i++ {
			p, base, err := startRole(ctx, "baseline", []string{
				envDB + "=" + baseDB, envRedis + "=" + baselineRedisURL(e.redisURL), envPool + "=" + strconv.Itoa(pool),
			}, logFile)
			if err != nil {
				return nil, err
			}
			e.roles = append(e.roles, p)
			e.baseBases = append(e.baseBases, base)
			e.basePids = append(e.basePids, p.Pid())
		}
	}
	if sc.Calibrate > 0 {
		p, base, err := startRole(ctx, "bare", nil, logFile)
		if err != nil {
			return nil, err
		}
		e.roles = append(e.roles, p)
		e.bareBase = base
	}
	return e, nil
}

// baselineRedisURL puts the baseline's sessions in Redis database 1, apart
// from the app's keys.
func baselineRedisURL(u string) string {
	if len(u) > 2 && u[len(u)-2:] == "/0" {
		return u[:len(u)-2] + "/1"
	}
	return u
}
