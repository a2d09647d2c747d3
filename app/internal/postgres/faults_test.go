package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/postgres"
)

// TestGiveBackIsFenced: a give-back removes only the seat its batch granted
// (same ticket) and only while no newer batch has granted for the course.
func TestGiveBackIsFenced(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	course, cands := seed(t, s, 5, 3)
	_, err := s.Grant(ctx, course, 10, cands[:2])
	require.NoError(t, err)

	ok, err := s.GiveBack(ctx, course, cands[0].StudentID, cands[0].Ticket+1, 10)
	require.NoError(t, err)
	assert.False(t, ok, "another ticket: not the seat this batch granted")
	ok, err = s.GiveBack(ctx, course, cands[0].StudentID, cands[0].Ticket, 9)
	require.NoError(t, err)
	assert.False(t, ok, "not the fence the seat was granted under")

	// A newer batch grants (finding the student enrolled): the old batch's
	// give-back is refused.
	_, err = s.Grant(ctx, course, 11, cands[1:])
	require.NoError(t, err)
	ok, err = s.GiveBack(ctx, course, cands[1].StudentID, cands[1].Ticket, 10)
	require.NoError(t, err)
	assert.False(t, ok, "a newer batch granted since: the seat stays")
	ok, err = s.GiveBack(ctx, course, cands[2].StudentID, cands[2].Ticket, 11)
	require.NoError(t, err)
	assert.True(t, ok, "the current batch gives back its own seat")
	es, err := s.Enrollments(ctx, cands[2].StudentID)
	require.NoError(t, err)
	assert.Empty(t, es)
	c, err := s.Course(ctx, course)
	require.NoError(t, err)
	assert.Equal(t, 2, c.Enrolled, "the counter follows the delete")
}

// TestMigrationsWithoutPoolStatementTimeout: migrations run on a pool whose
// statement_timeout is far too short for a schema change, and wait for the
// advisory lock held by another instance for a stated bound, then fail with
// a message that says so.
func TestMigrationsWithoutPoolStatementTimeout(t *testing.T) {
	ctx := context.Background()
	url, err := env.PG.CreateDatabase(ctx, "mig_timeout")
	require.NoError(t, err)
	// pg_sleep in a migration would be artificial; a 1 ms bound is shorter
	// than the real first migration's DDL.
	pool := env.Pool(t, url+"&statement_timeout=1", nil)
	_, err = pool.Exec(ctx, "SELECT pg_sleep(0.05)")
	require.Error(t, err, "the pool's statement timeout applies to ordinary statements")
	done, err := postgres.Migrate(ctx, pool)
	require.NoError(t, err, "migrations do not run under the pool's statement timeout")
	assert.NotEmpty(t, done)
	_, err = pool.Exec(ctx, "SELECT pg_sleep(0.05)")
	require.Error(t, err, "the pool's own connections keep its timeout")

	holder, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer holder.Close(ctx)
	_, err = holder.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(0x7375726765))
	require.NoError(t, err)
	old := postgres.MigrationLockWait
	postgres.MigrationLockWait = 500 * time.Millisecond
	defer func() { postgres.MigrationLockWait = old }()
	start := time.Now()
	_, err = postgres.Migrate(ctx, env.Pool(t, url, nil))
	took := time.Since(start)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "another instance", "says who holds the lock: %v", err)
	assert.Less(t, took, 2*time.Second, "waits the stated bound, not the statement timeout")
}
