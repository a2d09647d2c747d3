package localenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is the superuser every throwaway cluster is created with (trust auth on
// loopback, so no password).
const User = "surge"

// DefaultStartTimeout bounds a start (initdb excluded) when ctx has no
// deadline.
const DefaultStartTimeout = 60 * time.Second

// PostgresOptions configures StartPostgres. The zero value is a temp-dir
// cluster on a free port with durable (default) settings.
type PostgresOptions struct {
	// Dir holds the cluster (Dir/data) and is created if missing; "" = a new
	// temp dir, removed by Close. A Dir given by the caller is never removed.
	Dir string
	// Port to listen on at 127.0.0.1; 0 = a free port chosen at start.
	Port int
	// Log receives the server's output (initdb and postgres); nil = discarded
	// (the tail is still kept for error messages).
	Log io.Writer
	// NoDurability turns fsync, synchronous_commit and full_page_writes off:
	// much faster commits, but a machine crash can lose or corrupt data. For
	// tests; a benchmark must report whether it used it (see Settings).
	NoDurability bool
	// Settings are extra postgresql.conf lines (name -> value), applied last
	// so they override the defaults above.
	Settings map[string]string
}

// Postgres is a running (or stopped) throwaway PostgreSQL cluster.
type Postgres struct {
	binDir   string
	dir      string
	dataDir  string
	ownedDir bool
	port     int
	cred     *syscall.Credential
	log      io.Writer
	tail     *tailBuffer
	settings map[string]string

	mu   sync.Mutex
	proc *process
}

// StartPostgres creates a cluster with initdb (superuser "surge", trust auth,
// UTF8, C locale) and starts it, returning once it accepts connections.
// pg_stat_statements is preloaded and created in postgres and template1, so
// every database made afterwards has it.
func StartPostgres(ctx context.Context, o PostgresOptions) (*Postgres, error) {
	binDir, err := postgresBinDir("/", exec.LookPath)
	if err != nil {
		return nil, err
	}
	cred, err := dropPrivileges()
	if err != nil {
		return nil, err
	}
	dir, owned, err := makeDir(o.Dir, "surge-pg-*")
	if err != nil {
		return nil, err
	}
	p := &Postgres{
		binDir: binDir, dir: dir, dataDir: filepath.Join(dir, "data"), ownedDir: owned,
		port: o.Port, cred: cred, tail: newTail(64 << 10),
	}
	p.log = p.tail
	if o.Log != nil {
		p.log = io.MultiWriter(o.Log, p.tail)
	}
	fail := func(err error) (*Postgres, error) {
		if owned {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	if err := checkTraversable(p.dataDir, cred); err != nil {
		return fail(err)
	}
	if err := p.initdb(ctx); err != nil {
		return fail(err)
	}

	autoPort := o.Port == 0
	for attempt := 0; ; attempt++ {
		if autoPort {
			if p.port, err = freePort(); err != nil {
				return fail(err)
			}
		}
		p.settings = postgresSettings(p.port, p.dataDir, o)
		if err := p.writeConfig(); err != nil {
			return fail(err)
		}
		err = p.Start(ctx)
		if err == nil {
			break
		}
		// Someone took the free port between our probe and the bind: retry.
		if autoPort && attempt < 4 && p.tail.Contains("could not bind") {
			continue
		}
		return fail(err)
	}
	// template1: every database created later has it; postgres: monitoring
	// connections (pg_stat_statements_reset) live there.
	for _, db := range []string{"template1", "postgres"} {
		if err := p.exec(ctx, db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
			p.Close()
			return nil, fmt.Errorf("creating pg_stat_statements in %s: %w", db, err)
		}
	}
	return p, nil
}

// postgresSettings returns the postgresql.conf overrides for a cluster.
func postgresSettings(port int, dataDir string, o PostgresOptions) map[string]string {
	s := map[string]string{
		"listen_addresses":         "127.0.0.1",
		"port":                     strconv.Itoa(port),
		"unix_socket_directories":  dataDir,
		"max_connections":          "200",
		"shared_preload_libraries": "pg_stat_statements",
		"pg_stat_statements.track": "all",
		"logging_collector":        "off",
		"log_destination":          "stderr",
		"log_checkpoints":          "off",
	}
	if o.NoDurability {
		s["fsync"] = "off"
		s["synchronous_commit"] = "off"
		s["full_page_writes"] = "off"
	}
	maps.Copy(s, o.Settings)
	return s
}

func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.binDir, name), args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C", "TZ=UTC")
	cmd.Stdout, cmd.Stderr = p.log, p.log
	// Own process group: a Ctrl-C in the terminal must not reach the server
	// directly (the caller stops it after draining the app); a parent death
	// still takes it down.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGQUIT, Credential: p.cred}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func (p *Postgres) initdb(ctx context.Context) error {
	if err := os.MkdirAll(p.dataDir, 0o700); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}
	if p.cred != nil {
		if err := os.Chown(p.dataDir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return fmt.Errorf("chown data dir to postgres: %w", err)
		}
	}
	if _, err := os.Stat(filepath.Join(p.dataDir, "PG_VERSION")); err == nil {
		return nil // an existing cluster in a caller-given Dir: reuse it
	}
	cmd := p.command("initdb", "-D", p.dataDir, "-U", User, "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	proc, err := startProcess(cmd)
	if err != nil {
		return fmt.Errorf("running initdb: %w", err)
	}
	select {
	case <-proc.done:
	case <-ctx.Done():
		_ = cmd.Process.Kill() // the context error is the one reported
		<-proc.done
		return fmt.Errorf("initdb: %w", ctx.Err())
	}
	if proc.err != nil {
		return fmt.Errorf("initdb failed: %w; %s", proc.err, logTailMsg(p.tail))
	}
	return nil
}

// writeConfig appends our settings to postgresql.conf (later lines win), in a
// stable order so the file is reproducible.
func (p *Postgres) writeConfig() error {
	var b strings.Builder
	b.WriteString("\n# added by surge internal/localenv\n")
	for _, k := range slices.Sorted(maps.Keys(p.settings)) {
		fmt.Fprintf(&b, "%s = '%s'\n", k, strings.ReplaceAll(p.settings[k], "'", "''"))
	}
	f, err := os.OpenFile(filepath.Join(p.dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("opening postgresql.conf: %w", err)
	}
	_, err = f.WriteString(b.String())
	return errors.Join(err, f.Close())
}

// Start starts a stopped cluster on the same port with the same data and
// waits until it accepts connections (or ctx ends; DefaultStartTimeout when
// ctx has no deadline). Starting a running cluster is a no-op.
func (p *Postgres) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil && !p.proc.exited() {
		return nil
	}
	proc, err := startProcess(p.command("postgres", "-D", p.dataDir))
	if err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	p.proc = proc
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	for {
		if proc.exited() {
			return fmt.Errorf("postgres exited during start (%w); %s", proc.err, logTailMsg(p.tail))
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(cctx, p.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-ctx.Done():
			_ = p.stopLocked(context.Background())
			return fmt.Errorf("postgres not ready on port %d: %w (last error: %w); %s", p.port, ctx.Err(), err, logTailMsg(p.tail))
		case <-proc.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop shuts the server down in "fast" mode (SIGINT: active sessions are
// disconnected, data is kept). If ctx ends first it falls back to an immediate
// shutdown (SIGQUIT), then SIGKILL.
func (p *Postgres) Stop(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopLocked(ctx)
}

func (p *Postgres) stopLocked(ctx context.Context) error {
	return stopProcess(ctx, p.proc, syscall.SIGINT, syscall.SIGQUIT)
}

// stopProcess sends soft, waits for ctx (at most 60 s), then hard, then kill.
func stopProcess(ctx context.Context, proc *process, soft, hard syscall.Signal) error {
	if proc == nil || proc.exited() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	_ = proc.cmd.Process.Signal(soft)
	select {
	case <-proc.done:
		return nil
	case <-ctx.Done():
	}
	_ = proc.cmd.Process.Signal(hard)
	select {
	case <-proc.done:
		return fmt.Errorf("server did not stop in time; sent %v", hard)
	case <-time.After(5 * time.Second):
	}
	_ = proc.cmd.Process.Kill()
	<-proc.done
	return fmt.Errorf("server did not stop in time; killed")
}

// Close stops the server and removes the directory if StartPostgres created
// it. Safe to call more than once.
func (p *Postgres) Close() error {
	err := p.Stop(context.Background())
	if p.ownedDir {
		err = errors.Join(err, os.RemoveAll(p.dir))
	}
	return err
}

// URL returns the connection URL of database db as the superuser.
func (p *Postgres) URL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(User),
		Host:     fmt.Sprintf("127.0.0.1:%d", p.port),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates database name (with pg_stat_statements) and returns
// its URL.
func (p *Postgres) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := p.exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("creating database %q: %w", name, err)
	}
	if err := p.exec(ctx, name, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		return "", fmt.Errorf("creating pg_stat_statements in %q: %w", name, err)
	}
	return p.URL(name), nil
}

func (p *Postgres) exec(ctx context.Context, db, sql string) error {
	conn, err := pgx.Connect(ctx, p.URL(db))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// Port is the TCP port on 127.0.0.1.
func (p *Postgres) Port() int { return p.port }

// Dir is the directory holding the cluster (data in Dir()/data).
func (p *Postgres) Dir() string { return p.dir }

// Pid is the postmaster's process id, 0 when stopped.
func (p *Postgres) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil || p.proc.exited() {
		return 0
	}
	return p.proc.cmd.Process.Pid
}

// Settings returns the postgresql.conf overrides in force (for reports).
func (p *Postgres) Settings() map[string]string { return maps.Clone(p.settings) }

// LogTail returns the last n lines of the server's output.
func (p *Postgres) LogTail(n int) string { return p.tail.Lines(n) }
