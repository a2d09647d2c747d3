package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLockKey is the pg_advisory_lock key that serializes migrations of
// many instances starting together ("surge" in ASCII).
const migrationLockKey = 0x7375726765

// Migration is one embedded schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("reading embedded migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		prefix, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: name must start with a positive version and '_'", name)
		}
		b, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, fmt.Errorf("reading migration %q: %w", name, err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %q and %q share version %d", ms[i-1].Name, ms[i].Name, ms[i].Version)
		}
	}
	return ms, nil
}

// Migrate applies every embedded migration not applied yet, each in its own
// transaction, while holding a session advisory lock so that concurrent
// instances wait for each other instead of racing (at most
// MigrationLockWait). Its statements run under MigrationStatementTimeout
// instead of the pool's per-statement bound. It returns the versions it
// applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]int, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	conn, err := migrationConn(ctx, pool)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := lockMigrations(ctx, conn, MigrationLockWait); err != nil {
		return nil, err
	}
	defer func() {
		// A fresh context: the lock must be released even if ctx was cancelled;
		// if this fails the lock dies with the session anyway.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLockKey))
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("creating schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("reading applied migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("reading applied migrations: %w", err)
	}
	for _, v := range versions {
		applied[int(v)] = true
	}
	var done []int
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return done, fmt.Errorf("applying migration %s: %w", m.Name, err)
		}
		done = append(done, m.Version)
	}
	return done, nil
}

// MigrationStatementTimeout bounds one statement of a migration: a schema
// change (an index build, a table rewrite) may take far longer than the
// pool's 10 s statement_timeout, which migrations do not use.
const MigrationStatementTimeout = 30 * time.Minute

// MigrationLockWait bounds the wait for another instance's migrations.
var MigrationLockWait = 2 * time.Minute

// migrationConn opens a connection of its own, configured like the pool's
// (credentials included) but with MigrationStatementTimeout instead of the
// pool's statement_timeout from its first statement; it never goes back to
// the pool.
func migrationConn(ctx context.Context, pool *pgxpool.Pool) (*pgx.Conn, error) {
	pc := pool.Config()
	cc := pc.ConnConfig.Copy()
	cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(MigrationStatementTimeout.Milliseconds(), 10)
	if pc.BeforeConnect != nil {
		if err := pc.BeforeConnect(ctx, cc); err != nil {
			return nil, fmt.Errorf("connecting for migrations: %w", err)
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("connecting for migrations: %w", err)
	}
	return conn, nil
}

// lockMigrations takes the migration lock, waiting at most wait for the
// instance that holds it, and says who holds it when giving up.
func lockMigrations(ctx context.Context, conn *pgx.Conn, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", int64(migrationLockKey)).Scan(&got); err != nil {
			return fmt.Errorf("taking migration lock: %w", err)
		}
		if got {
			return nil
		}
		if time.Now().After(deadline) {
			var pid int32
			_ = conn.QueryRow(ctx, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
				AND classid = $1 AND objid = $2 LIMIT 1`, uint32(migrationLockKey>>32), uint32(migrationLockKey&0xffffffff)).Scan(&pid)
			return fmt.Errorf("taking migration lock: another instance (server pid %d) has been applying migrations for more than %s; "+
				"retry once it is done, or end that session if it hangs", pid, wait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("taking migration lock: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
