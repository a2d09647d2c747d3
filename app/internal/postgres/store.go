// Package postgres is the durable store: courses, students and enrollments in
// PostgreSQL, with a writer pool and an optional read-replica pool.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/surge-dev/surge/app/internal/surge"
)

// Options tune the pools. Zero values pick the defaults.
type Options struct {
	// Tracer observes every statement (tests count statements with it).
	Tracer pgx.QueryTracer
	// MaxConns per pool when the URL has no pool_max_conns. Default 10.
	MaxConns int32
	// ConnectTimeout when the URL has no connect_timeout. Default 2s: an
	// unreachable database must turn into a fast 503, not a hung request.
	ConnectTimeout time.Duration
	// Credentials, when set, supplies user and password for every new
	// connection (a rotated Secrets Manager password is picked up).
	Credentials func(ctx context.Context) (user, password string, err error)
}

// Store implements the durable operations of the service.
type Store struct {
	writer *pgxpool.Pool
	reader *pgxpool.Pool // == writer when no replica is configured
}

// NewPool builds a lazily connecting pool: it never fails because the
// database is down, so the process starts and reports 503 until it is back.
func NewPool(ctx context.Context, url string, o Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may echo the URL including its password.
		return nil, errors.New("parsing database url: invalid connection string")
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 10
		if o.MaxConns > 0 {
			cfg.MaxConns = o.MaxConns
		}
	}
	if !strings.Contains(url, "connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = 2 * time.Second
		if o.ConnectTimeout > 0 {
			cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
		}
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !ok {
		// A bound on any single statement; migrations use their own
		// (MigrationStatementTimeout) on their connection.
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = "10000"
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "surge"
	}
	cfg.HealthCheckPeriod = 5 * time.Second
	if o.Credentials != nil {
		creds := o.Credentials
		cfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
			user, password, err := creds(ctx)
			if err != nil {
				return fmt.Errorf("reading database credentials: %w", err)
			}
			cc.User, cc.Password = user, password
			return nil
		}
	}
	if o.Tracer != nil {
		cfg.ConnConfig.Tracer = o.Tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("creating database pool: %w", err)
	}
	return pool, nil
}

// New returns a store over a writer pool and a reader pool (nil: the writer).
func New(writer, reader *pgxpool.Pool) *Store {
	if reader == nil {
		reader = writer
	}
	return &Store{writer: writer, reader: reader}
}

// Ping checks that the writer answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.writer.Ping(ctx)
}

const courseColumns = "id, code, title, capacity, enrolled, opens_at"

func scanCourse(row pgx.Row) (surge.Course, error) {
	var c surge.Course
	var capacity, enrolled int32
	err := row.Scan(&c.ID, &c.Code, &c.Title, &capacity, &enrolled, &c.OpensAt)
	c.Capacity, c.Enrolled = int(capacity), int(enrolled)
	c.OpensAt = c.OpensAt.UTC()
	return c, err
}

// CreateCourse inserts a course; a duplicate code is a conflict.
func (s *Store) CreateCourse(ctx context.Context, code, title string, capacity int, opensAt time.Time) (surge.Course, error) {
	c, err := scanCourse(s.writer.QueryRow(ctx,
		"INSERT INTO courses (code, title, capacity, opens_at) VALUES ($1, $2, $3, $4) RETURNING "+courseColumns,
		code, title, capacity, opensAt))
	if isUniqueViolation(err) {
		return surge.Course{}, surge.Errorf(surge.CodeConflict, "a course with code %q already exists", code)
	}
	if err != nil {
		return surge.Course{}, fmt.Errorf("inserting course: %w", err)
	}
	return c, nil
}

// UpdateCourse applies a partial update. Capacity below the seats already
// granted is a conflict; the check and the write are one statement.
func (s *Store) UpdateCourse(ctx context.Context, id int64, u surge.CourseUpdate) (surge.Course, error) {
	var capacity *int32
	if u.Capacity != nil {
		v := int32(*u.Capacity)
		capacity = &v
	}
	c, err := scanCourse(s.writer.QueryRow(ctx, `UPDATE courses SET
			title = COALESCE($2, title),
			capacity = COALESCE($3, capacity),
			opens_at = COALESCE($4, opens_at)
		WHERE id = $1 AND COALESCE($3, capacity) >= enrolled
		RETURNING `+courseColumns, id, u.Title, capacity, u.OpensAt))
	if errors.Is(err, pgx.ErrNoRows) || isCheckViolation(err) {
		var enrolled int32
		err := s.writer.QueryRow(ctx, "SELECT enrolled FROM courses WHERE id = $1", id).Scan(&enrolled)
		if errors.Is(err, pgx.ErrNoRows) {
			return surge.Course{}, surge.ErrCourseNotFound
		}
		if err != nil {
			return surge.Course{}, fmt.Errorf("reading course: %w", err)
		}
		return surge.Course{}, surge.Errorf(surge.CodeConflict, "capacity below the %d seats already taken", enrolled)
	}
	if err != nil {
		return surge.Course{}, fmt.Errorf("updating course: %w", err)
	}
	return c, nil
}

// Courses lists every course from the reader.
func (s *Store) Courses(ctx context.Context) ([]surge.Course, error) {
	rows, err := s.reader.Query(ctx, "SELECT "+courseColumns+" FROM courses ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("listing courses: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (surge.Course, error) { return scanCourse(r) })
	if err != nil {
		return nil, fmt.Errorf("listing courses: %w", err)
	}
	return cs, nil
}

// Course reads one course from the reader.
func (s *Store) Course(ctx context.Context, id int64) (surge.Course, error) {
	c, err := scanCourse(s.reader.QueryRow(ctx, "SELECT "+courseColumns+" FROM courses WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return surge.Course{}, surge.ErrCourseNotFound
	}
	if err != nil {
		return surge.Course{}, fmt.Errorf("reading course: %w", err)
	}
	return c, nil
}

// ExistingStudentNos returns which of nos already exist (so that only new
// students pay for password hashing).
func (s *Store) ExistingStudentNos(ctx context.Context, nos []string) (map[string]bool, error) {
	rows, err := s.writer.Query(ctx, "SELECT student_no FROM students WHERE student_no = ANY($1)", nos)
	if err != nil {
		return nil, fmt.Errorf("reading students: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("reading students: %w", err)
	}
	m := make(map[string]bool, len(found))
	for _, n := range found {
		m[n] = true
	}
	return m, nil
}

// ImportStudents inserts students, skipping existing student numbers without
// touching them, and returns how many were created. One statement.
func (s *Store) ImportStudents(ctx context.Context, students []surge.NewStudent) (int, error) {
	if len(students) == 0 {
		return 0, nil
	}
	nos := make([]string, len(students))
	names := make([]string, len(students))
	hashes := make([]string, len(students))
	for i, st := range students {
		nos[i], names[i], hashes[i] = st.StudentNo, st.Name, st.PasswordHash
	}
	tag, err := s.writer.Exec(ctx, `INSERT INTO students (student_no, name, password_hash)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
		ON CONFLICT (student_no) DO NOTHING`, nos, names, hashes)
	if err != nil {
		return 0, fmt.Errorf("importing students: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// StudentCredentials returns the id and password hash of a student number;
// found is false when it does not exist.
func (s *Store) StudentCredentials(ctx context.Context, studentNo string) (id int64, hash string, found bool, err error) {
	err = s.writer.QueryRow(ctx, "SELECT id, password_hash FROM students WHERE student_no = $1", studentNo).Scan(&id, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", false, fmt.Errorf("reading student: %w", err)
	}
	return id, hash, true, nil
}

// Enrollments lists a student's seats from the writer (read-your-writes).
func (s *Store) Enrollments(ctx context.Context, studentID int64) ([]surge.Enrollment, error) {
	rows, err := s.writer.Query(ctx, `SELECT e.course_id, c.code, e.enrolled_at
		FROM enrollments e JOIN courses c ON c.id = e.course_id
		WHERE e.student_id = $1 ORDER BY e.enrolled_at, e.course_id`, studentID)
	if err != nil {
		return nil, fmt.Errorf("listing enrollments: %w", err)
	}
	es, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (surge.Enrollment, error) {
		var e surge.Enrollment
		err := r.Scan(&e.CourseID, &e.Code, &e.EnrolledAt)
		e.EnrolledAt = e.EnrolledAt.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing enrollments: %w", err)
	}
	return es, nil
}

// CancelEnrollment deletes a seat; deleted is false when there was none. The
// trigger gives the seat back to the course counter in the same statement.
// A failure that certainly left the seat in place is marked
// surge.ErrNotApplied.
func (s *Store) CancelEnrollment(ctx context.Context, studentID, courseID int64) (deleted bool, err error) {
	tag, err := s.writer.Exec(ctx, "DELETE FROM enrollments WHERE course_id = $1 AND student_id = $2", courseID, studentID)
	if err != nil {
		err = fmt.Errorf("cancelling enrollment: %w", err)
		if notApplied(err) {
			// The seat is certainly still there: the caller may show it again.
			return false, surge.NotApplied(err)
		}
		return false, err
	}
	return tag.RowsAffected() > 0, nil
}

// GiveBack deletes the seat a batch granted to a student who left the queue
// while the batch was in flight. It deletes only that seat (same ticket) and
// only while fence is still the course's admit fence: once a newer batch has
// granted, that batch may have found the student enrolled and recorded it,
// so the seat stays (the student can cancel it). The course row is locked
// first, so a grant running at the same time is ordered before or after.
func (s *Store) GiveBack(ctx context.Context, courseID, studentID, ticket, fence int64) (deleted bool, err error) {
	tag, err := s.writer.Exec(ctx, `WITH f AS (SELECT id FROM courses WHERE id = $1 AND admit_fence = $4 FOR UPDATE)
		DELETE FROM enrollments e USING f WHERE e.course_id = f.id AND e.student_id = $2 AND e.ticket = $3`,
		courseID, studentID, ticket, fence)
	if err != nil {
		return false, fmt.Errorf("giving back a seat: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// CoursesWithSeats returns which of ids have a free seat (from the writer:
// a replica could lag behind a cancellation).
func (s *Store) CoursesWithSeats(ctx context.Context, ids []int64) ([]int64, error) {
	rows, err := s.writer.Query(ctx, "SELECT id FROM courses WHERE id = ANY($1) AND enrolled < capacity ORDER BY id", ids)
	if err != nil {
		return nil, fmt.Errorf("reading free seats: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("reading free seats: %w", err)
	}
	return out, nil
}

// NextTicketEpoch bumps and returns the course's ticket epoch. It is called
// only when Redis lost the course's ticket counter.
func (s *Store) NextTicketEpoch(ctx context.Context, courseID int64) (int64, error) {
	var epoch int64
	err := s.writer.QueryRow(ctx, "UPDATE courses SET ticket_epoch = ticket_epoch + 1 WHERE id = $1 RETURNING ticket_epoch", courseID).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, surge.ErrCourseNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("bumping ticket epoch: %w", err)
	}
	return epoch, nil
}

// Grant offers seats to candidates (sorted by ticket) in one transaction.
// The first statement takes the course row lock while checking the fencing
// token, and reads the seats left and which candidates already hold a seat
// (after a Redis data loss students may join again): they keep it without
// using another. Then the first `seats left` other candidates are inserted in
// ticket order; the rest are full. The unique key refuses double enrollments
// and the CHECK on courses.enrolled refuses overbooking even if this code
// were wrong. Statements: BEGIN, fence, INSERT (none when full), COMMIT: one
// check per batch whatever its size.
func (s *Store) Grant(ctx context.Context, courseID, fence int64, cands []surge.Candidate) (surge.GrantResult, error) {
	ids := make([]int64, len(cands))
	for i, c := range cands {
		ids[i] = c.StudentID
	}
	var res surge.GrantResult
	err := pgx.BeginFunc(ctx, s.writer, func(tx pgx.Tx) error {
		res = surge.GrantResult{}
		var left int32
		var had []int64
		err := tx.QueryRow(ctx, `WITH f AS (
				UPDATE courses SET admit_fence = $2 WHERE id = $1 AND admit_fence < $2
				RETURNING capacity - enrolled AS seats_left)
			SELECT seats_left, ARRAY(SELECT student_id FROM enrollments WHERE course_id = $1 AND student_id = ANY($3)) FROM f`,
			courseID, fence, ids).Scan(&left, &had)
		if errors.Is(err, pgx.ErrNoRows) {
			var cur int64
			err := tx.QueryRow(ctx, "SELECT admit_fence FROM courses WHERE id = $1", courseID).Scan(&cur)
			if errors.Is(err, pgx.ErrNoRows) {
				return surge.ErrCourseNotFound
			}
			if err != nil {
				return fmt.Errorf("reading fence: %w", err)
			}
			return &surge.StaleFenceError{Fence: cur}
		}
		if err != nil {
			return fmt.Errorf("checking fence: %w", err)
		}
		res.AlreadyEnrolled = had
		holds := make(map[int64]bool, len(had))
		for _, id := range had {
			holds[id] = true
		}
		var rest []surge.Candidate
		for _, c := range cands {
			if !holds[c.StudentID] {
				rest = append(rest, c)
			}
		}
		for left > 0 && len(rest) > 0 {
			n := min(int(left), len(rest))
			chunk := rest[:n]
			rest = rest[n:]
			ids := make([]int64, n)
			tickets := make([]int64, n)
			for i, c := range chunk {
				ids[i], tickets[i] = c.StudentID, c.Ticket
			}
			rows, err := tx.Query(ctx, `INSERT INTO enrollments (course_id, student_id, ticket)
				SELECT $1, u.s, u.t FROM unnest($2::bigint[], $3::bigint[]) WITH ORDINALITY AS u(s, t, o)
				JOIN students st ON st.id = u.s
				ORDER BY u.o
				ON CONFLICT (course_id, student_id) DO NOTHING
				RETURNING student_id`, courseID, ids, tickets)
			if err != nil {
				return fmt.Errorf("granting seats: %w", err)
			}
			got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return fmt.Errorf("granting seats: %w", err)
			}
			left -= int32(len(got))
			res.Granted = append(res.Granted, got...)
			if len(got) < n {
				// Unknown students, or a seat committed while we waited for the lock.
				missing := without(ids, got)
				rows, err := tx.Query(ctx, "SELECT student_id FROM enrollments WHERE course_id = $1 AND student_id = ANY($2)", courseID, missing)
				if err != nil {
					return fmt.Errorf("reading enrollments: %w", err)
				}
				had, err := pgx.CollectRows(rows, pgx.RowTo[int64])
				if err != nil {
					return fmt.Errorf("reading enrollments: %w", err)
				}
				res.AlreadyEnrolled = append(res.AlreadyEnrolled, had...)
				res.Unknown = append(res.Unknown, without(missing, had)...)
			}
		}
		for _, c := range rest {
			res.Full = append(res.Full, c.StudentID)
		}
		res.SeatsLeft = int(left)
		return nil
	})
	if err != nil {
		return surge.GrantResult{}, err
	}
	return res, nil
}

func without(all, drop []int64) []int64 {
	d := make(map[int64]bool, len(drop))
	for _, v := range drop {
		d[v] = true
	}
	var out []int64
	for _, v := range all {
		if !d[v] {
			out = append(out, v)
		}
	}
	return out
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func isCheckViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23514"
}

// notApplied reports whether err certainly means that the statement did not
// take effect: no connection could be made, nothing was sent, or the server
// refused the statement. Otherwise (a connection lost mid-statement) the
// outcome is unknown.
func notApplied(err error) bool {
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	return errors.As(err, &ce) || errors.As(err, &pe) || pgconn.SafeToRetry(err)
}
