package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/postgres"
	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/testenv"
	"github.com/surge-dev/surge/internal/localenv"
)

// rdsLike returns a fresh database owned by a new CREATEROLE, non-superuser
// login (what the RDS master user is), migrated as that user, and the URL of
// that user. Tests that pass as the local superuser could fail on RDS.
func rdsLike(t *testing.T) (masterURL string, master string) {
	t.Helper()
	ctx := context.Background()
	n := fmt.Sprint(rdsSeq.Add(1))
	master, dbName := "master_"+n, "rds_"+n
	superURL, err := env.PG.CreateDatabase(ctx, dbName)
	require.NoError(t, err)
	exec(t, superURL, fmt.Sprintf("CREATE ROLE %s LOGIN CREATEROLE CREATEDB", master))
	exec(t, superURL, fmt.Sprintf("ALTER DATABASE %s OWNER TO %s", dbName, master))
	masterURL = testenv.AsUser(superURL, master)
	_, err = postgres.Migrate(ctx, env.Pool(t, masterURL, nil))
	require.NoError(t, err, "migrating as the RDS-like master")
	return masterURL, master
}

var rdsSeq atomic.Int64

func exec(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	require.NoError(t, err, sql)
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// requirePassword makes role authenticate with SCRAM on loopback (the
// throwaway cluster trusts everyone else) and waits until the rule is live.
func requirePassword(t *testing.T, superURL, role string) {
	t.Helper()
	hba := filepath.Join(env.PG.Dir(), "data", "pg_hba.conf")
	b, err := os.ReadFile(hba)
	require.NoError(t, err)
	line := fmt.Sprintf("host all %s 127.0.0.1/32 scram-sha-256\n", role)
	require.NoError(t, os.WriteFile(hba, append([]byte(line), b...), 0o600))
	exec(t, env.PG.URL("postgres"), "SELECT pg_reload_conf()")
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := pgx.Connect(context.Background(), testenv.AsUser(superURL, role))
		if err != nil {
			return // a password is asked for now
		}
		conn.Close(context.Background())
		require.True(t, time.Now().Before(deadline), "pg_hba rule for %s never took effect", role)
		time.Sleep(50 * time.Millisecond)
	}
}

func withPassword(rawURL, user, password string) string {
	i := strings.Index(rawURL, "@")
	return "postgres://" + user + ":" + password + rawURL[i:]
}

// TestMigrateCreatesThenUpdatesAppRole: as an RDS-like master, the first run
// creates the role with the password, the second (rotation) changes it; the
// old password stops working, the new one works, and the privileges are
// exactly the listed ones both times.
func TestMigrateCreatesThenUpdatesAppRole(t *testing.T) {
	ctx := context.Background()
	masterURL, master := rdsLike(t)
	role := "app_" + strings.TrimPrefix(master, "master_")
	pool := env.Pool(t, masterURL, nil)

	first := postgres.AppRole{Name: role, Password: "first-password-0123456789abcdef"}
	require.NoError(t, postgres.EnsureAppRole(ctx, pool, first))
	requirePassword(t, masterURL, role)
	conn, err := pgx.Connect(ctx, withPassword(masterURL, role, first.Password))
	require.NoError(t, err, "connecting with the first password")
	conn.Close(ctx)

	second := postgres.AppRole{Name: role, Password: "second-password-0123456789abcdef"}
	require.NoError(t, postgres.EnsureAppRole(ctx, pool, second), "rotation")
	require.NoError(t, postgres.EnsureAppRole(ctx, pool, second), "idempotent")
	_, err = pgx.Connect(ctx, withPassword(masterURL, role, first.Password))
	assert.Equal(t, "28P01", sqlState(err), "the old password must be refused: %v", err)
	conn, err = pgx.Connect(ctx, withPassword(masterURL, role, second.Password))
	require.NoError(t, err, "connecting with the rotated password")
	defer conn.Close(ctx)

	var super, createDB, createRole, repl, bypass bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = current_user").
		Scan(&super, &createDB, &createRole, &repl, &bypass))
	assert.False(t, super || createDB || createRole || repl || bypass, "role attributes")

	// The exact privilege matrix on every table of the schema.
	rows, _ := conn.Query(ctx, `SELECT c.relname, p.priv, has_table_privilege(c.oid, p.priv)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
		     unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) AS p(priv)
		WHERE n.nspname = 'public' AND c.relkind = 'r'`)
	type cell struct {
		Table, Priv string
		Has         bool
	}
	cells, err := pgx.CollectRows(rows, pgx.RowToStructByPos[cell])
	require.NoError(t, err)
	require.NotEmpty(t, cells)
	for _, c := range cells {
		want := false
		for _, p := range postgres.AppTablePrivileges[c.Table] {
			want = want || p == c.Priv
		}
		assert.Equal(t, want, c.Has, "%s on %s", c.Priv, c.Table)
	}
}

// TestAppRoleDoesItsJobAndNothingMore runs every store operation as the app
// role, then tries what it must not do.
func TestAppRoleDoesItsJobAndNothingMore(t *testing.T) {
	ctx := context.Background()
	superURL := env.Database(t)
	appURL := testenv.AsUser(superURL, testenv.AppRoleName)
	s := postgres.New(env.Pool(t, appURL, nil), env.Pool(t, appURL, nil))

	// Every statement of the store, as the app role.
	courseID, cands := seed(t, s, 2, 3)
	_, err := s.UpdateCourse(ctx, courseID, surge.CourseUpdate{Title: ptr("renamed")})
	require.NoError(t, err)
	_, err = s.Courses(ctx)
	require.NoError(t, err)
	_, err = s.Course(ctx, courseID)
	require.NoError(t, err)
	_, err = s.ExistingStudentNos(ctx, []string{"s0000"})
	require.NoError(t, err)
	_, err = s.NextTicketEpoch(ctx, courseID)
	require.NoError(t, err)
	res, err := s.Grant(ctx, courseID, 1, cands)
	require.NoError(t, err, "granting seats")
	require.NotEmpty(t, res.Granted)
	ens, err := s.Enrollments(ctx, res.Granted[0])
	require.NoError(t, err)
	require.Len(t, ens, 1)
	deleted, err := s.CancelEnrollment(ctx, res.Granted[0], courseID)
	require.NoError(t, err)
	require.True(t, deleted)
	pending, err := postgres.PendingMigrations(ctx, env.Pool(t, appURL, nil))
	require.NoError(t, err)
	assert.Empty(t, pending)

	conn, err := pgx.Connect(ctx, appURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	for _, stmt := range []string{
		"DROP TABLE enrollments",
		"ALTER TABLE courses ADD COLUMN x int",
		"ALTER TABLE courses DROP CONSTRAINT courses_enrolled_within_capacity",
		"TRUNCATE enrollments",
		"CREATE TABLE evil (id int)",
		"CREATE TEMP TABLE evil (id int)",
		"CREATE SCHEMA evil",
		"CREATE INDEX evil ON courses (title)",
		"DROP TRIGGER enrollments_count_insert ON enrollments",
		"CREATE OR REPLACE FUNCTION enrollments_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
		"DELETE FROM courses",
		"DELETE FROM students",
		"UPDATE students SET name = 'x'",
		"DELETE FROM schema_migrations",
		"CREATE ROLE evil",
	} {
		_, err := conn.Exec(ctx, stmt)
		assert.Equal(t, "42501", sqlState(err), "%s must be refused for lack of privilege, got %v", stmt, err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestEnsureAppRoleConcurrent: instances booting together all succeed.
func TestEnsureAppRoleConcurrent(t *testing.T) {
	ctx := context.Background()
	masterURL, master := rdsLike(t)
	role := "app_" + strings.TrimPrefix(master, "master_")
	pool := env.Pool(t, masterURL, nil)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			errs[i] = postgres.EnsureAppRole(ctx, pool, postgres.AppRole{Name: role, Password: fmt.Sprintf("password-%d-0123456789abcdef", i)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "migrator %d", i)
	}
}

// TestEnsureAppRoleRefuses what would break least privilege, and never
// echoes the password.
func TestEnsureAppRoleRefuses(t *testing.T) {
	ctx := context.Background()
	masterURL, master := rdsLike(t)
	pool := env.Pool(t, masterURL, nil)
	n := strings.TrimPrefix(master, "master_")
	const pw = "a-password-that-must-not-leak-0123"

	owner := "owner_" + n
	require.NoError(t, postgres.EnsureAppRole(ctx, pool, postgres.AppRole{Name: owner, Password: pw}))
	exec(t, masterURL, "CREATE TABLE owned_by_app (id int)")
	exec(t, testenv.AsUser(masterURL, localenv.User), "ALTER TABLE owned_by_app OWNER TO "+owner)

	member := "member_" + n
	require.NoError(t, postgres.EnsureAppRole(ctx, pool, postgres.AppRole{Name: member, Password: pw}))
	exec(t, masterURL, fmt.Sprintf("GRANT %s TO %s", master, member))

	for _, tc := range []struct {
		role postgres.AppRole
		want string
	}{
		{postgres.AppRole{Name: master, Password: pw}, "must not be the migrating user"},
		{postgres.AppRole{Name: owner, Password: pw}, "owns relation owned_by_app"},
		{postgres.AppRole{Name: member, Password: pw}, "is a member of " + master},
		{postgres.AppRole{Name: "Bad-Name", Password: pw}, "must be lowercase"},
		{postgres.AppRole{Name: "pg_app", Password: pw}, "reserved"},
		{postgres.AppRole{Name: "app_short_" + n, Password: "short"}, "at least 16"},
	} {
		err := postgres.EnsureAppRole(ctx, pool, tc.role)
		if assert.Error(t, err, "EnsureAppRole(%s)", tc.role.Name) {
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), pw)
		}
	}
}
