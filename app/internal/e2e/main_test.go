package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/surge-dev/surge/app/internal/redisconn"
	"github.com/surge-dev/surge/app/internal/sessions"
	"github.com/surge-dev/surge/app/internal/surge"
	"github.com/surge-dev/surge/app/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

// cluster is several app instances on one database and one Redis.
type cluster struct {
	t    *testing.T
	sh   testenv.Shared
	apps []*testenv.App
}

func newCluster(t *testing.T, n int, o testenv.AppOptions) *cluster {
	t.Helper()
	return newClusterMode(t, redisconn.Standalone, n, o)
}

// newClusterMode is newCluster on the standalone Redis or on the package's
// Redis Cluster.
func newClusterMode(t *testing.T, mode redisconn.Mode, n int, o testenv.AppOptions) *cluster {
	t.Helper()
	sh := env.NewSharedMode(t, mode)
	c := &cluster{t: t, sh: sh}
	if o.Logger == nil {
		level := slog.LevelWarn
		if os.Getenv("E2E_DEBUG_LOG") != "" {
			level = slog.LevelDebug
		}
		w := t.Output()
		if f := os.Getenv("E2E_DEBUG_LOG"); f != "" {
			fh, err := os.OpenFile(f, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			require.NoError(t, err)
			t.Cleanup(func() { fh.Close() })
			w = fh
		}
		o.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	}
	if o.Admitter.Interval == 0 {
		o.Admitter.Interval = 10 * time.Millisecond
	}
	for range n {
		c.apps = append(c.apps, env.NewApp(t, sh, o))
	}
	return c
}

func (c *cluster) course(code string, capacity int) int64 {
	c.t.Helper()
	r := env.NewClient(c.t, c.apps[0].HTTP.URL).Admin("POST", "/api/admin/courses",
		map[string]any{"code": code, "title": code, "capacity": capacity, "opensAt": "2020-01-01T00:00:00Z"})
	require.Equal(c.t, http.StatusCreated, r.Status, "creating course: %s", r.Body)
	return int64(r.JSON()["id"].(float64))
}

// student is one signed-in student with a client per instance.
type student struct {
	id      int64
	no      string
	clients []*testenv.Client
}

// students imports n students straight into the database (one shared hash:
// bcrypt is not under test here) and opens a session for each in Redis.
func (c *cluster) students(prefix string, n int) []*student {
	c.t.Helper()
	ctx := context.Background()
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	require.NoError(c.t, err)
	var in []surge.NewStudent
	for i := range n {
		in = append(in, surge.NewStudent{StudentNo: fmt.Sprintf("%s%05d", prefix, i), Name: "n", PasswordHash: string(hash)})
	}
	_, err = c.apps[0].Store.ImportStudents(ctx, in)
	require.NoError(c.t, err)
	conn, err := pgx.Connect(ctx, c.sh.DBURL)
	require.NoError(c.t, err)
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, "SELECT id, student_no FROM students WHERE student_no LIKE $1 ORDER BY student_no", prefix+"%")
	ids, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		ID int64
		No string
	}])
	require.NoError(c.t, err)
	require.Len(c.t, ids, n)
	sess := sessions.New(c.sh.Redis, c.sh.Prefix, time.Hour)
	out := make([]*student, n)
	for i, row := range ids {
		sid, err := sess.Create(ctx, row.ID)
		require.NoError(c.t, err)
		s := &student{id: row.ID, no: row.No}
		base := env.NewClient(c.t, c.apps[0].HTTP.URL)
		base.HTTP.Jar.SetCookies(mustURL(c.apps[0].HTTP.URL), []*http.Cookie{{Name: "surge_session", Value: sid}})
		for _, a := range c.apps {
			cl := base.WithBase(a.HTTP.URL)
			// httptest servers differ by port only; cookies are per host, so the jar serves all.
			cl.HTTP.Jar.SetCookies(mustURL(a.HTTP.URL), []*http.Cookie{{Name: "surge_session", Value: sid}})
			s.clients = append(s.clients, cl)
		}
		out[i] = s
	}
	return out
}

// login signs a student in again over HTTP (after Redis lost the sessions).
func (s *student) login(t *testing.T) bool {
	r, err := s.clients[0].Do("POST", "/api/login", map[string]string{"studentNo": s.no, "password": "pw"})
	return err == nil && r.Status == http.StatusOK
}

// courseKeys starts the Redis keys of a course's waiting room
// (waitroom/scripts.go).
func courseKeys(prefix string, course int64) string { return fmt.Sprintf("%sc:{%d}:", prefix, course) }

func queuePath(course int64) string { return fmt.Sprintf("/api/courses/%d/queue", course) }

// parallel runs f for every index with at most width goroutines.
func parallel(n, width int, f func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, width)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

// dbEnrollments returns student -> ticket of the course's enrollments and
// the courses.enrolled counter.
func (c *cluster) dbEnrollments(course int64) (map[int64]int64, int) {
	c.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.sh.DBURL)
	require.NoError(c.t, err)
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, "SELECT student_id, ticket FROM enrollments WHERE course_id = $1", course)
	got := map[int64]int64{}
	var sid, tk int64
	_, err = pgx.ForEachRow(rows, []any{&sid, &tk}, func() error {
		got[sid] = tk
		return nil
	})
	require.NoError(c.t, err)
	var counter int
	require.NoError(c.t, conn.QueryRow(ctx, "SELECT enrolled FROM courses WHERE id = $1", course).Scan(&counter))
	return got, counter
}

type state struct {
	State  string
	Ticket int64
}

// states polls every student's state (spread over the instances).
func (c *cluster) states(course int64, ss []*student) (map[int64]state, error) {
	var mu sync.Mutex
	out := map[int64]state{}
	var firstErr error
	parallel(len(ss), 64, func(i int) {
		s := ss[i]
		r, err := s.clients[i%len(s.clients)].Do("GET", queuePath(course), nil)
		if err == nil && r.Status != http.StatusOK {
			err = fmt.Errorf("status %d: %s", r.Status, r.Body)
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			firstErr = err
			return
		}
		m := r.JSON()
		st := state{State: m["state"].(string)}
		if t, ok := m["ticket"].(float64); ok {
			st.Ticket = int64(t)
		}
		out[s.id] = st
	})
	return out, firstErr
}

// checkFIFO verifies invariants 1 and 2 at a quiet moment: among the students
// still in the game (enrolled or full), the enrolled ones are exactly the
// lowest tickets, as many as there are seats (or everyone), and PostgreSQL
// agrees with Redis. It returns a description of the first violation.
func (c *cluster) checkFIFO(course int64, capacity int, ss []*student) error {
	sts, err := c.states(course, ss)
	if err != nil {
		return err
	}
	db, counter := c.dbEnrollments(course)
	if counter != len(db) {
		return fmt.Errorf("courses.enrolled=%d but %d enrollment rows", counter, len(db))
	}
	if len(db) > capacity {
		return fmt.Errorf("overbooked: %d enrollments for %d seats", len(db), capacity)
	}
	type entry struct {
		student int64
		st      state
	}
	var in []entry
	for _, s := range ss {
		st := sts[s.id]
		switch st.State {
		case "queued":
			return fmt.Errorf("student %d still queued", s.id)
		case "enrolled", "full":
			in = append(in, entry{s.id, st})
		}
	}
	for sid, tk := range db {
		if st := sts[sid]; st.State != "enrolled" {
			return fmt.Errorf("student %d holds a seat (ticket %d) but its state is %s (ticket %d)", sid, tk, st.State, st.Ticket)
		}
	}
	sort.Slice(in, func(i, j int) bool { return in[i].st.Ticket < in[j].st.Ticket })
	want := min(capacity, len(in))
	for i, e := range in {
		_, inDB := db[e.student]
		if i < want {
			if e.st.State != "enrolled" || !inDB {
				return fmt.Errorf("ticket %d (rank %d of %d) should hold a seat: state %s, in db %v", e.st.Ticket, i, want, e.st.State, inDB)
			}
			if db[e.student] != e.st.Ticket {
				return fmt.Errorf("student %d enrolled with ticket %d in db, %d in redis", e.student, db[e.student], e.st.Ticket)
			}
		} else if e.st.State != "full" || inDB {
			return fmt.Errorf("ticket %d (rank %d, seats %d) should be full: state %s, in db %v", e.st.Ticket, i, want, e.st.State, inDB)
		}
	}
	if len(db) != want {
		return fmt.Errorf("%d enrollments in db, want %d", len(db), want)
	}
	return nil
}

// waitFIFO waits for a quiet moment that satisfies checkFIFO and returns the
// last violation if none came within timeout.
func (c *cluster) waitFIFO(course int64, capacity int, ss []*student, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := c.checkFIFO(course, capacity, ss)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
