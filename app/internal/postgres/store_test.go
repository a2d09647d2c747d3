package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/postgres"
	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

func newStore(t *testing.T) (*postgres.Store, *testenv.Counter, string) {
	t.Helper()
	url := env.Database(t)
	cnt := testenv.NewCounter()
	return postgres.New(env.Pool(t, url, cnt), nil), cnt, url
}

func seed(t *testing.T, s *postgres.Store, capacity, students int) (int64, []surge.Candidate) {
	t.Helper()
	ctx := context.Background()
	c, err := s.CreateCourse(ctx, fmt.Sprint("C", capacity, students), "t", capacity, time.Now())
	require.NoError(t, err)
	var in []surge.NewStudent
	var nos []string
	for i := range students {
		nos = append(nos, fmt.Sprintf("s%04d", i))
		in = append(in, surge.NewStudent{StudentNo: nos[i], Name: "n", PasswordHash: "x"})
	}
	n, err := s.ImportStudents(ctx, in)
	require.NoError(t, err)
	require.Equal(t, students, n)
	var cands []surge.Candidate
	for i, no := range nos {
		id, _, found, err := s.StudentCredentials(ctx, no)
		require.NoError(t, err)
		require.True(t, found)
		cands = append(cands, surge.Candidate{StudentID: id, Ticket: int64(1000 + i)})
	}
	return c.ID, cands
}

// TestGrantInTicketOrderOneCheckPerBatch: seats go to the first candidates;
// once full, a whole batch is answered with one statement.
func TestGrantInTicketOrderOneCheckPerBatch(t *testing.T) {
	s, cnt, _ := newStore(t)
	ctx := context.Background()
	course, cands := seed(t, s, 3, 8)
	res, err := s.Grant(ctx, course, 1, cands[:5])
	require.NoError(t, err)
	assert.Equal(t, []int64{cands[0].StudentID, cands[1].StudentID, cands[2].StudentID}, res.Granted, "first three tickets")
	assert.Equal(t, []int64{cands[3].StudentID, cands[4].StudentID}, res.Full, "the rest are full")
	assert.Zero(t, res.SeatsLeft)

	cnt.Reset()
	res, err = s.Grant(ctx, course, 2, cands[3:])
	require.NoError(t, err)
	assert.Len(t, res.Full, 5, "all full")
	assert.Equal(t, 3, cnt.Count(), "BEGIN + one check + COMMIT for a whole batch on a full course: %v", cnt.BySQL())

	// Already enrolled candidates (Redis lost their state) keep their seat.
	res, err = s.Grant(ctx, course, 3, cands[:2])
	require.NoError(t, err)
	assert.ElementsMatch(t, []int64{cands[0].StudentID, cands[1].StudentID}, res.AlreadyEnrolled, "already enrolled")
	assert.Empty(t, res.Granted)

	// A stale fencing token is refused.
	_, err = s.Grant(ctx, course, 2, cands[5:])
	assert.ErrorIs(t, err, surge.ErrStaleFence, "older token after a newer one granted")
	_, err = s.Grant(ctx, 999, 10, cands[5:])
	assert.ErrorIs(t, err, surge.ErrCourseNotFound, "unknown course")

	// Cancel frees a seat; the next grant gives it to the first candidate offered.
	ok, err := s.CancelEnrollment(ctx, cands[1].StudentID, course)
	require.NoError(t, err)
	assert.True(t, ok, "cancelled")
	ok, err = s.CancelEnrollment(ctx, cands[1].StudentID, course)
	require.NoError(t, err)
	assert.False(t, ok, "cancel twice")
	res, err = s.Grant(ctx, course, 4, cands[3:6])
	require.NoError(t, err)
	assert.Equal(t, []int64{cands[3].StudentID}, res.Granted, "freed seat to the lowest ticket offered")
}

// TestConcurrentGrantsNeverOverbook: many grants race on one course with
// unique tokens (as if admitters ignored the lease): the database alone keeps
// enrollments within capacity and unique (invariant 1).
func TestConcurrentGrantsNeverOverbook(t *testing.T) {
	s, _, url := newStore(t)
	ctx := context.Background()
	course, cands := seed(t, s, 10, 60)
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			// Overlapping slices: the same students offered by several grants.
			lo := (i * 4) % 40
			_, err := s.Grant(ctx, course, int64(100+i), cands[lo:lo+20])
			if err != nil && !errors.Is(err, surge.ErrStaleFence) {
				t.Errorf("grant %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	pool := env.Pool(t, url, nil)
	var rows, distinct, counter int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT student_id) FROM enrollments WHERE course_id = $1", course).Scan(&rows, &distinct))
	require.NoError(t, pool.QueryRow(ctx, "SELECT enrolled FROM courses WHERE id = $1", course).Scan(&counter))
	assert.LessOrEqual(t, rows, 10, "never more enrollments than capacity")
	assert.Equal(t, rows, distinct, "no student twice")
	assert.Equal(t, rows, counter, "counter matches rows")
}

// TestSchemaRefusesOverbooking: even a direct INSERT past capacity fails:
// the trigger-maintained counter and its CHECK guard every write path.
func TestSchemaRefusesOverbooking(t *testing.T) {
	s, _, url := newStore(t)
	ctx := context.Background()
	course, cands := seed(t, s, 2, 3)
	pool := env.Pool(t, url, nil)
	_, err := pool.Exec(ctx, "INSERT INTO enrollments (course_id, student_id) SELECT $1, unnest($2::bigint[])", course,
		[]int64{cands[0].StudentID, cands[1].StudentID, cands[2].StudentID})
	var pe *pgconn.PgError
	require.ErrorAs(t, err, &pe, "insert past capacity")
	assert.Equal(t, "23514", pe.Code, "check violation")
	_, err = pool.Exec(ctx, "INSERT INTO enrollments (course_id, student_id) VALUES ($1, $2), ($1, $2)", course, cands[0].StudentID)
	require.ErrorAs(t, err, &pe, "double enrollment")
	assert.Equal(t, "23505", pe.Code, "unique violation")
}

func TestUpdateCourse(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	course, cands := seed(t, s, 3, 3)
	_, err := s.Grant(ctx, course, 1, cands)
	require.NoError(t, err)
	capacity := 2
	_, err = s.UpdateCourse(ctx, course, surge.CourseUpdate{Capacity: &capacity})
	assert.Equal(t, surge.CodeConflict, surge.ErrorCode(err), "capacity below seats taken")
	capacity = 3
	c, err := s.UpdateCourse(ctx, course, surge.CourseUpdate{Capacity: &capacity})
	require.NoError(t, err)
	assert.Equal(t, 3, c.Enrolled)
	_, err = s.UpdateCourse(ctx, 424242, surge.CourseUpdate{Capacity: &capacity})
	assert.ErrorIs(t, err, surge.ErrCourseNotFound)
	_, err = s.CreateCourse(ctx, c.Code, "dup", 1, time.Now())
	assert.Equal(t, surge.CodeConflict, surge.ErrorCode(err), "duplicate code")
}

func TestNextTicketEpoch(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	course, _ := seed(t, s, 1, 1)
	e1, err := s.NextTicketEpoch(ctx, course)
	require.NoError(t, err)
	e2, err := s.NextTicketEpoch(ctx, course)
	require.NoError(t, err)
	assert.Greater(t, e2, e1, "epochs increase")
	_, err = s.NextTicketEpoch(ctx, 424242)
	assert.ErrorIs(t, err, surge.ErrCourseNotFound)
}

func TestMigrationsAreOrderedAndEmbedded(t *testing.T) {
	ms, err := postgres.Migrations()
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	for i, m := range ms {
		assert.Equal(t, i+1, m.Version, "migration %s version", m.Name)
	}
}

func TestIsBug(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "42P01"}, true},  // undefined table
		{&pgconn.PgError{Code: "23505"}, true},  // unhandled unique violation
		{&pgconn.PgError{Code: "57P01"}, false}, // admin shutdown: restart
		{&pgconn.PgError{Code: "57P03"}, false}, // starting up
		{&pgconn.PgError{Code: "08006"}, false}, // connection failure
		{context.DeadlineExceeded, false},
		{fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "22P02"}), true},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, surge.IsBug(tc.err), "IsBug(%v)", tc.err)
	}
}
