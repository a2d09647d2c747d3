package localenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func startPG(t *testing.T, o PostgresOptions) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pg, err := StartPostgres(ctx, o)
	SkipIfNotInstalled(t, err)
	require.NoError(t, err)
	t.Cleanup(func() { pg.Close() })
	return pg
}

func queryInt(t *testing.T, url, sql string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err, "connecting to %s", url)
	defer conn.Close(ctx)
	var n int
	require.NoError(t, conn.QueryRow(ctx, sql).Scan(&n), sql)
	return n
}

func queryString(t *testing.T, url, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err, "connecting to %s", url)
	defer conn.Close(ctx)
	var s string
	require.NoError(t, conn.QueryRow(ctx, sql).Scan(&s), sql)
	return s
}

// TestPostgresLifecycle: start, create a database (with pg_stat_statements),
// write, stop/start keeps data and port, Close removes the temp dir.
func TestPostgresLifecycle(t *testing.T) {
	pg := startPG(t, PostgresOptions{NoDurability: true, Settings: map[string]string{"work_mem": "8MB"}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	assert.Equal(t, fmt.Sprintf("postgres://surge@127.0.0.1:%d/app?sslmode=disable", pg.Port()), pg.URL("app"))
	url, err := pg.CreateDatabase(ctx, "app")
	require.NoError(t, err)
	assert.Equal(t, pg.URL("app"), url)

	assert.Equal(t, "15", strings.SplitN(queryString(t, url, "SHOW server_version"), ".", 2)[0], "PostgreSQL 15 preferred")
	assert.Equal(t, "off", queryString(t, url, "SHOW fsync"), "NoDurability turns fsync off")
	assert.Equal(t, "off", queryString(t, url, "SHOW synchronous_commit"))
	assert.Equal(t, "200", queryString(t, url, "SHOW max_connections"))
	assert.Equal(t, "8MB", queryString(t, url, "SHOW work_mem"), "extra Settings applied")
	assert.Equal(t, "on", queryString(t, url, "SELECT CASE WHEN rolsuper THEN 'on' ELSE 'off' END FROM pg_roles WHERE rolname = current_user"), "surge is superuser")
	assert.Equal(t, 1, queryInt(t, url, "SELECT count(*)::int FROM pg_extension WHERE extname = 'pg_stat_statements'"))
	assert.GreaterOrEqual(t, queryInt(t, url, "SELECT count(*)::int FROM pg_stat_statements"), 0, "pg_stat_statements is queryable (preloaded)")
	assert.Equal(t, "127.0.0.1", queryString(t, url, "SHOW listen_addresses"))

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE TABLE t (v int); INSERT INTO t VALUES (42)")
	require.NoError(t, err)
	conn.Close(ctx)

	port := pg.Port()
	require.NoError(t, pg.Stop(ctx))
	assert.Zero(t, pg.Pid(), "stopped")
	_, err = pgx.Connect(ctx, url)
	assert.Error(t, err, "connection refused while stopped")
	require.NoError(t, pg.Start(ctx))
	assert.Equal(t, port, pg.Port())
	assert.Equal(t, 42, queryInt(t, url, "SELECT v FROM t"), "data survives stop/start")

	dir := pg.Dir()
	require.NoError(t, pg.Close())
	_, err = os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "Close removes the temp dir %s", dir)
	require.NoError(t, pg.Close(), "Close twice is fine")
}

// TestPostgresDurableByDefault: fsync stays on unless asked.
func TestPostgresDurableByDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("second cluster; short mode")
	}
	pg := startPG(t, PostgresOptions{})
	assert.Equal(t, "on", queryString(t, pg.URL("postgres"), "SHOW fsync"))
	assert.Equal(t, "on", queryString(t, pg.URL("postgres"), "SHOW synchronous_commit"))
}

// TestPostgresCallerDirKept: a caller-given Dir survives Close and is reused.
func TestPostgresCallerDirKept(t *testing.T) {
	if testing.Short() {
		t.Skip("extra cluster; short mode")
	}
	base, err := os.MkdirTemp("", "localenv-keep-*")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(base, 0o755))
	defer os.RemoveAll(base)
	pg := startPG(t, PostgresOptions{Dir: base, NoDurability: true})
	_, err = pg.CreateDatabase(context.Background(), "keep")
	require.NoError(t, err)
	require.NoError(t, pg.Close())
	_, err = os.Stat(filepath.Join(base, "data", "PG_VERSION"))
	require.NoError(t, err, "caller Dir kept")

	pg2 := startPG(t, PostgresOptions{Dir: base, NoDurability: true})
	assert.Equal(t, 1, queryInt(t, pg2.URL("postgres"), "SELECT count(*)::int FROM pg_database WHERE datname = 'keep'"), "cluster reused")
}

func TestPostgresBadSettingReportsLog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := StartPostgres(ctx, PostgresOptions{NoDurability: true, Settings: map[string]string{"shared_buffers": "nonsense"}})
	SkipIfNotInstalled(t, err)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "server log tail", "error quotes the server log")
	assert.Contains(t, err.Error(), "shared_buffers")
}

func TestPostgresBinDir(t *testing.T) {
	t.Setenv(PostgresBinEnv, "") // the search itself, whatever the machine sets
	noPath := func(string) (string, error) { return "", errors.New("not found") }
	mk := func(t *testing.T, root string, versions ...string) {
		for _, v := range versions {
			d := filepath.Join(root, "usr/lib/postgresql", v, "bin")
			require.NoError(t, os.MkdirAll(d, 0o755))
			for _, b := range []string{"initdb", "postgres"} {
				require.NoError(t, os.WriteFile(filepath.Join(d, b), nil, 0o755))
			}
		}
	}
	tests := []struct {
		name     string
		versions []string
		want     string
	}{
		{"prefers 15", []string{"14", "15", "16"}, "15"},
		{"newest otherwise", []string{"9", "13", "16"}, "16"},
		{"single", []string{"17"}, "17"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			mk(t, root, tt.versions...)
			got, err := postgresBinDir(root, noPath)
			require.NoError(t, err)
			assert.Equal(t, filepath.Join(root, "usr/lib/postgresql", tt.want, "bin"), got, "versions %v", tt.versions)
		})
	}
	t.Run("missing says how to install", func(t *testing.T) {
		_, err := postgresBinDir(t.TempDir(), noPath)
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrNotInstalled)
		assert.Contains(t, err.Error(), "apt-get install postgresql redis-server")
	})
	t.Run("redis missing says how to install", func(t *testing.T) {
		_, err := redisServerPath(noPath)
		assert.ErrorIs(t, err, ErrNotInstalled)
		assert.Contains(t, err.Error(), "apt-get install postgresql redis-server")
	})
}

func TestTailBuffer(t *testing.T) {
	tb := newTail(16)
	fmt.Fprint(tb, "line1\nline2\nline3\nline4\n")
	assert.Equal(t, "line3\nline4", tb.Lines(5), "keeps only the last bytes")
	assert.Equal(t, "line4", tb.Lines(1))
}

// respDo is a minimal RESP client for the tests.
func respDo(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return "", err
	}
	fmt.Fprintf(c, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c, "$%d\r\n%s\r\n", len(a), a)
	}
	rd := bufio.NewReader(c)
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		if line == "$-1" {
			return "(nil)", nil
		}
		v, err := rd.ReadString('\n')
		return strings.TrimRight(v, "\r\n"), err
	}
	return line, nil
}

func TestRedisLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := StartRedis(ctx, RedisOptions{})
	SkipIfNotInstalled(t, err)
	require.NoError(t, err)
	defer r.Close()

	assert.Equal(t, fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port()), r.URL())
	_, err = respDo(r.Addr(), "SET", "k", "v")
	require.NoError(t, err)
	got, err := respDo(r.Addr(), "GET", "k")
	require.NoError(t, err)
	assert.Equal(t, "v", got)

	port := r.Port()
	require.NoError(t, r.Stop(ctx))
	_, err = respDo(r.Addr(), "PING")
	assert.Error(t, err, "refused while stopped")
	require.NoError(t, r.Start(ctx))
	assert.Equal(t, port, r.Port())
	got, err = respDo(r.Addr(), "GET", "k")
	require.NoError(t, err)
	assert.Equal(t, "(nil)", got, "a restart loses data (no persistence)")

	dir := r.dir
	require.NoError(t, r.Close())
	_, err = os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "Close removes the temp dir")
}

func TestRedisExtraArgsAndBadArgs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := StartRedis(ctx, RedisOptions{Args: []string{"maxmemory"}})
	require.Error(t, err, "odd Args rejected")

	_, err = StartRedis(ctx, RedisOptions{Args: []string{"no-such-directive", "1"}})
	SkipIfNotInstalled(t, err)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "server log tail", "bad config reported with the log")
}

func TestPostgresBinEnv(t *testing.T) {
	noPath := func(string) (string, error) { return "", errors.New("not found") }
	t.Run("an explicit directory wins", func(t *testing.T) {
		dir := t.TempDir()
		for _, b := range []string{"initdb", "postgres"} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\n"), 0o755))
		}
		t.Setenv(PostgresBinEnv, dir)
		got, err := postgresBinDir(t.TempDir(), noPath)
		require.NoError(t, err)
		assert.Equal(t, dir, got)
	})
	t.Run("an empty explicit directory is not installed, naming make deps", func(t *testing.T) {
		t.Setenv(PostgresBinEnv, t.TempDir())
		_, err := postgresBinDir("/", noPath)
		assert.ErrorIs(t, err, ErrNotInstalled)
		assert.Contains(t, err.Error(), "make deps")
	})
}
