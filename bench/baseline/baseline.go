// Package baseline is the design surge replaces, kept only for the rush
// benchmark: enrollment with a row lock per request (seed 001 before its
// waiting room). Each request opens a transaction, locks the course row with
// SELECT ... FOR UPDATE, checks the seat count, inserts the enrollment and
// bumps the counter.
//
// It is made as fast as that design can honestly be: a pgx pool, statements
// prepared once per connection (pgx's statement cache), sessions in Redis like
// the app, and two round trips per enrollment: [BEGIN; SELECT ... FOR UPDATE]
// pipelined, then [INSERT+UPDATE; COMMIT] pipelined (or ROLLBACK when full).
// A duplicate enrollment inserts nothing and so bumps nothing: no seat leaks.
package baseline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Schema is the baseline's own tables, in its own database.
const Schema = `
CREATE TABLE IF NOT EXISTS bl_course (
	id       bigint PRIMARY KEY,
	capacity int NOT NULL CHECK (capacity > 0),
	enrolled int NOT NULL DEFAULT 0 CHECK (enrolled >= 0 AND enrolled <= capacity)
);
CREATE TABLE IF NOT EXISTS bl_student (
	id         bigint PRIMARY KEY,
	student_no text NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS bl_enrollment (
	student_id  bigint NOT NULL REFERENCES bl_student(id),
	course_id   bigint NOT NULL REFERENCES bl_course(id),
	enrolled_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (student_id, course_id)
);`

const (
	sqlLock = `SELECT capacity, enrolled,
		EXISTS (SELECT 1 FROM bl_enrollment WHERE course_id = $1 AND student_id = $2)
	FROM bl_course WHERE id = $1 FOR UPDATE`
	// Inserting and bumping in one statement: the counter moves only when a
	// row was really inserted (a duplicate changes nothing).
	sqlEnroll = `WITH ins AS (
		INSERT INTO bl_enrollment (student_id, course_id) VALUES ($1, $2)
		ON CONFLICT DO NOTHING RETURNING 1)
	UPDATE bl_course SET enrolled = enrolled + 1
	WHERE id = $2 AND EXISTS (SELECT 1 FROM ins) RETURNING enrolled`
	sqlCancel = `WITH del AS (
		DELETE FROM bl_enrollment WHERE student_id = $1 AND course_id = $2 RETURNING 1)
	UPDATE bl_course SET enrolled = enrolled - 1
	WHERE id = $2 AND EXISTS (SELECT 1 FROM del) RETURNING enrolled`
	sqlStudent = `SELECT id FROM bl_student WHERE student_no = $1`
)

// CourseSpec is one course to create.
type CourseSpec struct {
	ID       int64
	Capacity int
}

// Setup creates the schema, the courses and the students (ids 1..n in the
// order given), replacing anything there.
func Setup(ctx context.Context, pool *pgxpool.Pool, courses []CourseSpec, studentNos []string) error {
	if _, err := pool.Exec(ctx, Schema); err != nil {
		return fmt.Errorf("baseline schema: %w", err)
	}
	if _, err := pool.Exec(ctx, `TRUNCATE bl_enrollment, bl_course, bl_student`); err != nil {
		return fmt.Errorf("baseline truncate: %w", err)
	}
	rows := make([][]any, len(courses))
	for i, c := range courses {
		rows[i] = []any{c.ID, c.Capacity}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"bl_course"}, []string{"id", "capacity"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("baseline courses: %w", err)
	}
	rows = make([][]any, len(studentNos))
	for i, s := range studentNos {
		rows[i] = []any{int64(i + 1), s}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"bl_student"}, []string{"id", "student_no"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("baseline students: %w", err)
	}
	_, err := pool.Exec(ctx, `ANALYZE bl_course; ANALYZE bl_student`)
	return err
}

// Server serves the baseline endpoints:
//
//	POST   /login           {"studentNo"} -> 200 + cookie (no password: login is not measured)
//	POST   /enroll/{id}     -> 200 {"state":"enrolled"|"full"}; 404 unknown course
//	DELETE /enroll/{id}     -> 204; 404 if not enrolled
//	GET    /healthz
type Server struct {
	DB    *pgxpool.Pool
	Redis *redis.Client
}

const cookieName = "bl_session"

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /enroll/{id}", s.enroll)
	mux.HandleFunc("DELETE /enroll/{id}", s.cancel)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code string, err error) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": err.Error()}})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var body struct {
		StudentNo string `json:"studentNo"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil {
		writeErr(w, http.StatusBadRequest, "bad_request", err)
		return
	}
	var id int64
	if err := s.DB.QueryRow(r.Context(), sqlStudent, body.StudentNo).Scan(&id); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			writeErr(w, http.StatusUnauthorized, "unauthorized", errors.New("unknown student"))
			return
		}
		writeErr(w, http.StatusServiceUnavailable, "unavailable", err)
		return
	}
	b := make([]byte, 16)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	if err := s.Redis.Set(r.Context(), "bl:sess:"+tok, id, time.Hour).Err(); err != nil {
		writeErr(w, http.StatusServiceUnavailable, "unavailable", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: tok, HttpOnly: true, Path: "/", SameSite: http.SameSiteLaxMode})
	writeJSON(w, http.StatusOK, map[string]any{"studentId": id})
}

// session resolves the cookie to a student id through Redis, as the app does.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (int64, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		writeErr(w, http.StatusUnauthorized, "unauthorized", errors.New("no session"))
		return 0, false
	}
	id, err := s.Redis.Get(r.Context(), "bl:sess:"+c.Value).Int64()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			writeErr(w, http.StatusUnauthorized, "unauthorized", errors.New("session expired"))
		} else {
			writeErr(w, http.StatusServiceUnavailable, "unavailable", err)
		}
		return 0, false
	}
	return id, true
}

func courseID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeErr(w, http.StatusNotFound, "not_found", errors.New("unknown course"))
		return 0, false
	}
	return id, true
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	student, ok := s.session(w, r)
	if !ok {
		return
	}
	course, ok := courseID(w, r)
	if !ok {
		return
	}
	state, err := Enroll(r.Context(), s.DB, student, course)
	switch {
	case errors.Is(err, ErrUnknownCourse):
		writeErr(w, http.StatusNotFound, "not_found", err)
	case err != nil:
		writeErr(w, http.StatusServiceUnavailable, "unavailable", err)
	default:
		writeJSON(w, http.StatusOK, map[string]string{"state": state})
	}
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	student, ok := s.session(w, r)
	if !ok {
		return
	}
	course, ok := courseID(w, r)
	if !ok {
		return
	}
	var left int
	err := s.DB.QueryRow(r.Context(), sqlCancel, student, course).Scan(&left)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		writeErr(w, http.StatusNotFound, "not_found", errors.New("not enrolled"))
	case err != nil:
		writeErr(w, http.StatusServiceUnavailable, "unavailable", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// ErrUnknownCourse is returned by Enroll for a missing course.
var ErrUnknownCourse = errors.New("unknown course")

// Enroll runs the lock-per-request transaction and returns "enrolled" or
// "full". Already enrolled students get "enrolled" and take no second seat.
func Enroll(ctx context.Context, pool *pgxpool.Pool, student, course int64) (string, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return "", err
	}
	// pgxpool destroys a connection released mid-transaction, so an error
	// path below never leaks an open transaction or a held row lock.
	defer conn.Release()

	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(sqlLock, course, student)
	br := conn.SendBatch(ctx, b)
	_, err = br.Exec()
	var capacity, enrolled int
	var already bool
	if err == nil {
		err = br.QueryRow().Scan(&capacity, &enrolled, &already)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK") // best effort: the error above is the one reported
		if errors.Is(err, pgx.ErrNoRows) {
			return "", ErrUnknownCourse
		}
		return "", fmt.Errorf("locking course: %w", err)
	}
	if already || enrolled >= capacity {
		if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
			return "", err
		}
		if already {
			return "enrolled", nil
		}
		return "full", nil
	}
	b = &pgx.Batch{}
	b.Queue(sqlEnroll, student, course)
	b.Queue("COMMIT")
	br = conn.SendBatch(ctx, b)
	var after int
	err = br.QueryRow().Scan(&after)
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil // duplicate: nothing inserted, nothing bumped
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK") // best effort: the error above is the one reported
		return "", fmt.Errorf("enrolling: %w", err)
	}
	return "enrolled", nil
}

// Check verifies the baseline's invariants from the database: counters equal
// the rows, never above capacity, at most one enrollment per student and
// course. It returns every violation.
func Check(ctx context.Context, pool *pgxpool.Pool) (enrolled int, problems []string, err error) {
	rows, err := pool.Query(ctx, `
		SELECT c.id, c.capacity, c.enrolled, count(e.student_id)
		FROM bl_course c LEFT JOIN bl_enrollment e ON e.course_id = c.id
		GROUP BY c.id ORDER BY c.id`)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var capacity, counter, actual int
		if err := rows.Scan(&id, &capacity, &counter, &actual); err != nil {
			return 0, nil, err
		}
		enrolled += actual
		if actual > capacity {
			problems = append(problems, fmt.Sprintf("baseline course %d overbooked: %d > %d", id, actual, capacity))
		}
		if actual != counter {
			problems = append(problems, fmt.Sprintf("baseline course %d counter %d != rows %d (leaked seats)", id, counter, actual))
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	var dups int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM bl_enrollment GROUP BY student_id, course_id HAVING count(*) > 1) d`).Scan(&dups); err != nil {
		return 0, nil, err
	}
	if dups > 0 {
		problems = append(problems, fmt.Sprintf("baseline: %d double enrollments", dups))
	}
	return enrolled, problems, nil
}
