package rush

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// stubApp is a small, correct implementation of the app's HTTP contract
// (docs/app.md) used to test the benchmark tool on its own: same env variables,
// same "migrate"/"serve" subcommands, the same tables the SQL checks read
// (courses, enrollments). Joins queue; an admitter loop grants seats in
// ticket order under the course row lock; a cancellation promotes the lowest
// full ticket. It is not fast and does not need to be.
func init() { extraRoles["stub-app"] = runStubApp }

const stubSchema = `
CREATE TABLE IF NOT EXISTS courses (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, code text NOT NULL UNIQUE, title text NOT NULL,
	capacity int NOT NULL, enrolled int NOT NULL DEFAULT 0, opens_at timestamptz NOT NULL, next_ticket bigint NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS students (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, student_no text NOT NULL UNIQUE, name text NOT NULL, password text NOT NULL);
CREATE TABLE IF NOT EXISTS enrollments (
	course_id bigint NOT NULL, student_id bigint NOT NULL, ticket bigint, PRIMARY KEY (course_id, student_id));
CREATE TABLE IF NOT EXISTS waiting (
	course_id bigint NOT NULL, student_id bigint NOT NULL, ticket bigint NOT NULL, state text NOT NULL,
	PRIMARY KEY (course_id, student_id));
CREATE TABLE IF NOT EXISTS sessions (token text PRIMARY KEY, student_id bigint NOT NULL);`

type stub struct{ db *pgxpool.Pool }

func runStubApp() error {
	ctx := context.Background()
	db, err := pgxpool.New(ctx, os.Getenv("SURGE_DATABASE_URL"))
	if err != nil {
		return err
	}
	defer db.Close()
	if len(os.Args) > 1 && os.Args[len(os.Args)-1] == "migrate" {
		_, err := db.Exec(ctx, stubSchema)
		return err
	}
	s := &stub{db: db}
	go s.admitLoop()
	os.Setenv(envListen, os.Getenv("SURGE_LISTEN_ADDR"))
	return serveRole(s.handler(), nil)
}

func jsonOut(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func jsonErr(w http.ResponseWriter, status int, code string) {
	jsonOut(w, status, map[string]any{"error": map[string]string{"code": code, "message": code}})
}

func (s *stub) handler() http.Handler {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /readyz", ok)
	mux.HandleFunc("POST /api/admin/courses", s.admin(s.createCourse))
	mux.HandleFunc("POST /api/admin/students", s.admin(s.importStudents))
	mux.HandleFunc("POST /api/login", s.login)
	mux.HandleFunc("GET /api/courses", s.courses)
	mux.HandleFunc("POST /api/courses/{id}/queue", s.session(s.join))
	mux.HandleFunc("GET /api/courses/{id}/queue", s.session(s.state))
	mux.HandleFunc("DELETE /api/enrollments/{id}", s.session(s.cancel))
	mux.HandleFunc("GET /api/courses/{id}/progress", s.progress)
	return mux
}

func (s *stub) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+os.Getenv("SURGE_ADMIN_TOKEN") {
			jsonErr(w, 401, "unauthorized")
			return
		}
		h(w, r)
	}
}

type stubCourse struct {
	ID        int64     `json:"id"`
	Code      string    `json:"code"`
	Title     string    `json:"title"`
	Capacity  int       `json:"capacity"`
	Enrolled  int       `json:"enrolled"`
	SeatsLeft int       `json:"seatsLeft"`
	OpensAt   time.Time `json:"opensAt"`
	Open      bool      `json:"open"`
}

func (s *stub) createCourse(w http.ResponseWriter, r *http.Request) {
	var c stubCourse
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		jsonErr(w, 400, "invalid_request")
		return
	}
	err := s.db.QueryRow(r.Context(), `INSERT INTO courses (code, title, capacity, opens_at) VALUES ($1,$2,$3,$4) RETURNING id`,
		c.Code, c.Title, c.Capacity, c.OpensAt).Scan(&c.ID)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		jsonErr(w, 409, "conflict")
		return
	} else if err != nil {
		jsonErr(w, 503, "unavailable")
		return
	}
	c.SeatsLeft = c.Capacity
	jsonOut(w, 201, c)
}

func (s *stub) importStudents(w http.ResponseWriter, r *http.Request) {
	var list []struct{ StudentNo, Name, Password string }
	if err := json.NewDecoder(r.Body).Decode(&list); err != nil {
		jsonErr(w, 400, "invalid_request")
		return
	}
	rows := make([][]any, len(list))
	for i, st := range list {
		rows[i] = []any{st.StudentNo, st.Name, st.Password}
	}
	n, err := s.db.CopyFrom(r.Context(), pgx.Identifier{"students"}, []string{"student_no", "name", "password"}, pgx.CopyFromRows(rows))
	if err != nil {
		jsonErr(w, 503, "unavailable")
		return
	}
	jsonOut(w, 201, map[string]int64{"created": n})
}

func (s *stub) login(w http.ResponseWriter, r *http.Request) {
	var b struct{ StudentNo, Password string }
	_ = json.NewDecoder(r.Body).Decode(&b) // a bad body fails the login below
	var id int64
	if err := s.db.QueryRow(r.Context(), `SELECT id FROM students WHERE student_no=$1 AND password=$2`, b.StudentNo, b.Password).Scan(&id); err != nil {
		jsonErr(w, 401, "unauthorized")
		return
	}
	t := make([]byte, 16)
	rand.Read(t)
	tok := hex.EncodeToString(t)
	if _, err := s.db.Exec(r.Context(), `INSERT INTO sessions VALUES ($1,$2)`, tok, id); err != nil {
		jsonErr(w, 503, "unavailable")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "surge_session", Value: tok, HttpOnly: true, Path: "/"})
	jsonOut(w, 200, map[string]string{"studentNo": b.StudentNo})
}

func (s *stub) courses(w http.ResponseWriter, r *http.Request) {
	rows, _ := s.db.Query(r.Context(), `SELECT id, code, title, capacity, enrolled, opens_at FROM courses ORDER BY id`)
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (stubCourse, error) {
		var c stubCourse
		err := row.Scan(&c.ID, &c.Code, &c.Title, &c.Capacity, &c.Enrolled, &c.OpensAt)
		c.SeatsLeft, c.Open = c.Capacity-c.Enrolled, !time.Now().Before(c.OpensAt)
		return c, err
	})
	if err != nil {
		jsonErr(w, 503, "unavailable")
		return
	}
	jsonOut(w, 200, map[string]any{"courses": list})
}

type sessionHandler func(w http.ResponseWriter, r *http.Request, student, course int64)

func (s *stub) session(h sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("surge_session")
		var student int64
		if err == nil {
			err = s.db.QueryRow(r.Context(), `SELECT student_id FROM sessions WHERE token=$1`, c.Value).Scan(&student)
		}
		if err != nil {
			jsonErr(w, 401, "unauthorized")
			return
		}
		course, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			jsonErr(w, 404, "not_found")
			return
		}
		h(w, r, student, course)
	}
}

func (s *stub) join(w http.ResponseWriter, r *http.Request, student, course int64) {
	err := pgx.BeginFunc(r.Context(), s.db, func(tx pgx.Tx) error {
		var opens time.Time
		if err := tx.QueryRow(r.Context(), `SELECT opens_at FROM courses WHERE id=$1 FOR UPDATE`, course).Scan(&opens); err != nil {
			jsonErr(w, 404, "not_found")
			return nil
		}
		if time.Now().Before(opens) {
			jsonErr(w, 409, "not_open")
			return nil
		}
		var ticket int64
		if tx.QueryRow(r.Context(), `SELECT ticket FROM enrollments WHERE course_id=$1 AND student_id=$2`, course, student).Scan(&ticket) == nil {
			jsonOut(w, 200, map[string]any{"state": "enrolled", "ticket": ticket})
			return nil
		}
		var state string
		if tx.QueryRow(r.Context(), `SELECT ticket, state FROM waiting WHERE course_id=$1 AND student_id=$2`, course, student).Scan(&ticket, &state) == nil {
			jsonOut(w, 202, map[string]any{"state": state, "ticket": ticket, "position": 1})
			return nil
		}
		if err := tx.QueryRow(r.Context(), `UPDATE courses SET next_ticket = next_ticket + 1 WHERE id=$1 RETURNING next_ticket`, course).Scan(&ticket); err != nil {
			return err
		}
		if _, err := tx.Exec(r.Context(), `INSERT INTO waiting VALUES ($1,$2,$3,'queued')`, course, student, ticket); err != nil {
			return err
		}
		jsonOut(w, 202, map[string]any{"state": "queued", "ticket": ticket, "position": 1})
		return nil
	})
	if err != nil {
		jsonErr(w, 503, "unavailable")
	}
}

func (s *stub) state(w http.ResponseWriter, r *http.Request, student, course int64) {
	var ticket int64
	if s.db.QueryRow(r.Context(), `SELECT ticket FROM enrollments WHERE course_id=$1 AND student_id=$2`, course, student).Scan(&ticket) == nil {
		jsonOut(w, 200, map[string]any{"state": "enrolled", "ticket": ticket})
		return
	}
	var state string
	var pos int64
	if s.db.QueryRow(r.Context(), `SELECT w.ticket, w.state, (SELECT count(*) FROM waiting q WHERE q.course_id=$1 AND q.state='queued' AND q.ticket < w.ticket) + 1
		FROM waiting w WHERE course_id=$1 AND student_id=$2`, course, student).Scan(&ticket, &state, &pos) == nil {
		out := map[string]any{"state": state, "ticket": ticket}
		if state == "queued" {
			out["position"] = pos
		}
		jsonOut(w, 200, out)
		return
	}
	jsonOut(w, 200, map[string]any{"state": "none"})
}

// progress is the counter the student model reads through its CDN model:
// every ticket at or below decidedThrough is decided (no longer queued).
func (s *stub) progress(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		jsonErr(w, 400, "invalid_request")
		return
	}
	var through int64
	var left int
	err = s.db.QueryRow(r.Context(), `SELECT coalesce((SELECT min(ticket) - 1 FROM waiting WHERE course_id=$1 AND state='queued'), next_ticket),
		capacity - enrolled FROM courses WHERE id=$1`, id).Scan(&through, &left)
	if errors.Is(err, pgx.ErrNoRows) {
		jsonErr(w, 404, "not_found")
		return
	} else if err != nil {
		jsonErr(w, 503, "unavailable")
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=1")
	jsonOut(w, 200, map[string]any{"courseId": id, "decidedThrough": through, "seatsLeft": left, "asOf": time.Now().UTC()})
}

func (s *stub) cancel(w http.ResponseWriter, r *http.Request, student, course int64) {
	found := false
	err := pgx.BeginFunc(r.Context(), s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(r.Context(), `SELECT 1 FROM courses WHERE id=$1 FOR UPDATE`, course); err != nil {
			return err
		}
		tag, err := tx.Exec(r.Context(), `DELETE FROM enrollments WHERE course_id=$1 AND student_id=$2`, course, student)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		found = true
		if _, err := tx.Exec(r.Context(), `UPDATE courses SET enrolled = enrolled - 1 WHERE id=$1`, course); err != nil {
			return err
		}
		return admitCourse(r.Context(), tx, course, "full")
	})
	switch {
	case err != nil:
		jsonErr(w, 503, "unavailable")
	case !found:
		jsonErr(w, 404, "not_found")
	default:
		w.WriteHeader(204)
	}
}

// admitCourse grants free seats to the lowest tickets in state from (the
// course row is locked by the caller); with "queued", the rest become full.
func admitCourse(ctx context.Context, tx pgx.Tx, course int64, from string) error {
	var capacity, enrolled int
	if err := tx.QueryRow(ctx, `SELECT capacity, enrolled FROM courses WHERE id=$1`, course).Scan(&capacity, &enrolled); err != nil {
		return err
	}
	free := capacity - enrolled
	if free > 0 {
		// Full tickets are lower than queued ones: serve them first.
		for _, st := range []string{"full", from} {
			tag, err := tx.Exec(ctx, `WITH m AS (DELETE FROM waiting WHERE (course_id, student_id) IN (
				SELECT course_id, student_id FROM waiting WHERE course_id=$1 AND state=$2 ORDER BY ticket LIMIT $3)
				RETURNING course_id, student_id, ticket)
				INSERT INTO enrollments SELECT * FROM m`, course, st, free)
			if err != nil {
				return err
			}
			free -= int(tag.RowsAffected())
			if _, err := tx.Exec(ctx, `UPDATE courses SET enrolled = enrolled + $2 WHERE id=$1`, course, tag.RowsAffected()); err != nil {
				return err
			}
			if st == from {
				break
			}
		}
	}
	if from == "queued" {
		_, err := tx.Exec(ctx, `UPDATE waiting SET state='full' WHERE course_id=$1 AND state='queued'`, course)
		return err
	}
	return nil
}

func (s *stub) admitLoop() {
	for range time.Tick(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rows, _ := s.db.Query(ctx, `SELECT DISTINCT course_id FROM waiting WHERE state='queued'`)
		ids, _ := pgx.CollectRows(rows, pgx.RowTo[int64])
		for _, id := range ids {
			_ = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error { // a failed promotion is retried on the next tick
				if _, err := tx.Exec(ctx, `SELECT 1 FROM courses WHERE id=$1 FOR UPDATE`, id); err != nil {
					return err
				}
				return admitCourse(ctx, tx, id, "queued")
			})
		}
		cancel()
	}
}
