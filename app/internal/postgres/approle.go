package postgres

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AppRole is the role `surge serve` connects as: it may read and write the
// rows of the tables the app uses and nothing else (no DDL, owns nothing).
// `surge migrate`, connected as the database owner, creates and updates it.
type AppRole struct {
	Name     string
	Password string
}

// AppTablePrivileges are the privileges the app's statements need, table by
// table (store.go is the whole list). Anything else is revoked on every
// migration, so a privilege granted by hand does not survive the next boot.
var AppTablePrivileges = map[string][]string{
	"courses":     {"SELECT", "INSERT", "UPDATE"}, // the enrollment triggers update the seat counter as the caller
	"students":    {"SELECT", "INSERT"},
	"enrollments": {"SELECT", "INSERT", "DELETE"},
	// Course materials (materials.go): staff grants, authorised uploads
	// consumed when recorded, and the recorded files.
	"course_staff":     {"SELECT", "INSERT"},
	"material_uploads": {"SELECT", "INSERT", "DELETE"},
	"materials":        {"SELECT", "INSERT"},
	// Read by `surge serve` to refuse running on a schema older than its
	// binary.
	"schema_migrations": {"SELECT"},
}

var roleName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// checkAppRole validates r without touching the database; errors never
// contain the password.
func checkAppRole(r AppRole) error {
	var errs []error
	if !roleName.MatchString(r.Name) {
		errs = append(errs, fmt.Errorf("app role name %q must be lowercase letters, digits or _ starting with a letter (max 63)", r.Name))
	}
	if strings.HasPrefix(r.Name, "pg_") || strings.HasPrefix(r.Name, "rds") || r.Name == "postgres" || r.Name == "public" {
		errs = append(errs, fmt.Errorf("app role name %q is reserved", r.Name))
	}
	// The verifier is computed here (SASLprep of printable ASCII is the
	// identity); a generated password is always printable ASCII.
	if len(r.Password) < 16 {
		errs = append(errs, errors.New("app role password must be at least 16 characters"))
	}
	for _, c := range r.Password {
		if c < 0x21 || c > 0x7e {
			errs = append(errs, errors.New("app role password must be printable ASCII without spaces"))
			break
		}
	}
	return errors.Join(errs...)
}

// EnsureAppRole creates the app role or brings it back to its intended
// state: LOGIN with r.Password and no other attribute, member of no role,
// owner of nothing in this database, USAGE on the schema, CONNECT on the
// database and exactly AppTablePrivileges on the tables. It is idempotent
// and runs under the migration lock (transaction-scoped), so instances
// booting together apply it one after the other.
//
// It must run as the database owner with CREATEROLE (the RDS master user is
// not a superuser, so nothing here needs one). The password is sent as a
// SCRAM-SHA-256 verifier computed here: the cleartext never reaches the
// server, its logs (log_min_duration_statement, log_statement) or errors.
func EnsureAppRole(ctx context.Context, pool *pgxpool.Pool, r AppRole) error {
	if err := checkAppRole(r); err != nil {
		return err
	}
	verifier, err := scramVerifier(r.Password)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// No statement timeout for the wait: another instance may be in the
		// middle of a long migration. lock_timeout bounds it instead.
		if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = '5min'"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLockKey)); err != nil {
			return fmt.Errorf("taking migration lock: %w", err)
		}
		return ensureAppRole(ctx, tx, r.Name, verifier)
	})
	if err != nil {
		return fmt.Errorf("ensuring app role %s: %w", r.Name, err)
	}
	return nil
}

func ensureAppRole(ctx context.Context, tx pgx.Tx, name, verifier string) error {
	var me, db, schema string
	if err := tx.QueryRow(ctx, "SELECT current_user, current_database(), current_schema()").Scan(&me, &db, &schema); err != nil {
		return err
	}
	if name == me {
		return fmt.Errorf("the app role must not be the migrating user %q", me)
	}
	role := pgx.Identifier{name}.Sanitize()
	pw := "'" + strings.ReplaceAll(verifier, "'", "''") + "'"

	var super, repl, bypass bool
	err := tx.QueryRow(ctx, "SELECT rolsuper, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1", name).Scan(&super, &repl, &bypass)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// NOSUPERUSER, NOREPLICATION and NOBYPASSRLS are the defaults; naming
		// them in an ALTER would need a superuser, which RDS never grants.
		if _, err := tx.Exec(ctx, "CREATE ROLE "+role+" WITH LOGIN NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD "+pw); err != nil {
			return errors.New("creating role: " + pgMessage(err))
		}
	case err != nil:
		return err
	case super || repl || bypass:
		return fmt.Errorf("role %s is a superuser, a replication role or bypasses row security: refusing to use it for the app", name)
	default:
		if _, err := tx.Exec(ctx, "ALTER ROLE "+role+" WITH LOGIN NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD "+pw); err != nil {
			return errors.New("updating role: " + pgMessage(err))
		}
	}

	var memberOf []string
	rows, _ := tx.Query(ctx, `SELECT g.rolname FROM pg_auth_members m
		JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
		WHERE u.rolname = $1 ORDER BY 1`, name)
	if memberOf, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return err
	}
	if len(memberOf) > 0 {
		return fmt.Errorf("role %s is a member of %s: revoke the membership, the app role must hold only its own grants", name, strings.Join(memberOf, ", "))
	}
	var owned []string
	rows, _ = tx.Query(ctx, `SELECT kind || ' ' || obj FROM (
		SELECT 'relation' AS kind, c.oid::regclass::text AS obj, c.relowner AS owner FROM pg_class c
		UNION ALL SELECT 'schema', n.nspname, n.nspowner FROM pg_namespace n
		UNION ALL SELECT 'function', p.oid::regprocedure::text, p.proowner FROM pg_proc p
		UNION ALL SELECT 'database', d.datname, d.datdba FROM pg_database d WHERE d.datname = current_database()
	) o JOIN pg_roles r ON r.oid = o.owner WHERE r.rolname = $1 ORDER BY 1 LIMIT 10`, name)
	if owned, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return err
	}
	if len(owned) > 0 {
		return fmt.Errorf("role %s owns %s: an owner can alter and drop, reassign ownership to the migrating user", name, strings.Join(owned, ", "))
	}

	// Revoke on what this user owns only: revoking on another owner's
	// object (an extension's function in public, say) is refused.
	rows, _ = tx.Query(ctx, `SELECT c.relname, c.relkind = 'S' FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
		  AND pg_has_role(c.relowner, 'USAGE') ORDER BY 1`)
	type rel struct {
		Name     string
		Sequence bool
	}
	rels, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rel])
	if err != nil {
		return err
	}
	sch, dbi := pgx.Identifier{schema}.Sanitize(), pgx.Identifier{db}.Sanitize()
	stmts := []string{
		// Before PostgreSQL 15 every role may create objects in public and
		// temporary tables in any database; the app role must not.
		"REVOKE CREATE ON SCHEMA " + sch + " FROM PUBLIC",
		"REVOKE TEMPORARY ON DATABASE " + dbi + " FROM PUBLIC",
		"REVOKE ALL ON DATABASE " + dbi + " FROM " + role,
		"REVOKE ALL ON SCHEMA " + sch + " FROM " + role,
	}
	for _, r := range rels {
		kind := "TABLE"
		if r.Sequence {
			kind = "SEQUENCE"
		}
		stmts = append(stmts, fmt.Sprintf("REVOKE ALL ON %s %s FROM %s", kind, pgx.Identifier{schema, r.Name}.Sanitize(), role))
	}
	stmts = append(stmts,
		"GRANT CONNECT ON DATABASE "+dbi+" TO "+role,
		"GRANT USAGE ON SCHEMA "+sch+" TO "+role,
	)
	for _, table := range sortedTables() {
		stmts = append(stmts, fmt.Sprintf("GRANT %s ON TABLE %s TO %s",
			strings.Join(AppTablePrivileges[table], ", "), pgx.Identifier{schema, table}.Sanitize(), role))
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

func sortedTables() []string { return slices.Sorted(maps.Keys(AppTablePrivileges)) }

// pgMessage is the server's message and code, never the statement (which
// carries the verifier).
func pgMessage(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message + " (SQLSTATE " + pe.Code + ")"
	}
	return "failed"
}

// PendingMigrations returns the embedded migrations the database has not
// applied. `surge serve`, connected as the app role, cannot migrate: it
// refuses to run on an older schema instead of failing request by request.
func PendingMigrations(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	rows, _ := pool.Query(ctx, "SELECT version FROM schema_migrations")
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("reading applied migrations: %w", err)
	}
	applied := map[int]bool{}
	for _, v := range versions {
		applied[int(v)] = true
	}
	var pending []string
	for _, m := range ms {
		if !applied[m.Version] {
			pending = append(pending, m.Name)
		}
	}
	return pending, nil
}

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// scramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password (RFC 5802/7677, PostgreSQL's "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>"),
// the form `\password` in psql sends so the cleartext never leaves the client.
func scramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("generating salt: %w", err)
	}
	return scramVerifierWithSalt(password, salt, scramIterations)
}

func scramVerifierWithSalt(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("deriving scram key: %w", err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	server := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(server)), nil
}
