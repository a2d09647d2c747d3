package baseline

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/internal/localenv"
)

// One PostgreSQL and Redis for the package; each test gets its own database
// and Redis DB index.
var (
	sharedPG    *localenv.Postgres
	sharedRedis *localenv.Redis
	startErr    error
	dbSeq       int
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	sharedPG, startErr = localenv.StartPostgres(ctx, localenv.PostgresOptions{NoDurability: true})
	if startErr == nil {
		sharedRedis, startErr = localenv.StartRedis(ctx, localenv.RedisOptions{})
	}
	cancel()
	code := m.Run()
	if sharedRedis != nil {
		sharedRedis.Close()
	}
	if sharedPG != nil {
		sharedPG.Close()
	}
	os.Exit(code)
}

func setup(t *testing.T) (*pgxpool.Pool, *redis.Client) {
	t.Helper()
	localenv.SkipIfNotInstalled(t, startErr)
	require.NoError(t, startErr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbSeq++
	url, err := sharedPG.CreateDatabase(ctx, fmt.Sprintf("baseline%d", dbSeq))
	require.NoError(t, err)
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	opt, err := redis.ParseURL(sharedRedis.URL())
	require.NoError(t, err)
	opt.DB = dbSeq
	rc := redis.NewClient(opt)
	t.Cleanup(func() { rc.Close() })
	return pool, rc
}

// TestEnrollNoOverbookingNoLeak: 300 students (each trying twice) race for
// 20 seats of one course; exactly 20 are enrolled, the counter equals the
// rows, duplicates took no seat, and cancel frees exactly one seat.
func TestEnrollNoOverbookingNoLeak(t *testing.T) {
	pool, _ := setup(t)
	ctx := context.Background()
	const students, seats = 300, 20
	nos := make([]string, students)
	for i := range nos {
		nos[i] = fmt.Sprintf("B%05d", i+1)
	}
	require.NoError(t, Setup(ctx, pool, []CourseSpec{{ID: 1, Capacity: seats}, {ID: 2, Capacity: 1000}}, nos))

	var enrolled, full atomic.Int64
	var wg sync.WaitGroup
	for s := int64(1); s <= students; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first, err := Enroll(ctx, pool, s, 1)
			if !assert.NoError(t, err) {
				return
			}
			if first == "enrolled" {
				enrolled.Add(1)
			} else {
				full.Add(1)
			}
			again, err := Enroll(ctx, pool, s, 1)
			if assert.NoError(t, err) && first == "enrolled" {
				assert.Equal(t, "enrolled", again, "student %d enrolled twice reads enrolled, no second seat", s)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(seats), enrolled.Load(), "exactly capacity enrolled")
	assert.Equal(t, int64(students-seats), full.Load())

	n, problems, err := Check(ctx, pool)
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, seats, n)

	// Re-enrolling an enrolled student in the full course answers enrolled.
	var someone int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT student_id FROM bl_enrollment WHERE course_id = 1 LIMIT 1`).Scan(&someone))
	state, err := Enroll(ctx, pool, someone, 1)
	require.NoError(t, err)
	assert.Equal(t, "enrolled", state)

	_, err = Enroll(ctx, pool, 1, 99)
	assert.ErrorIs(t, err, ErrUnknownCourse)
	// The pool is still healthy after the error path (no open transaction).
	for i := 0; i < 20; i++ {
		_, err := Enroll(ctx, pool, int64(i+1), 2)
		require.NoError(t, err)
	}
	_, problems, err = Check(ctx, pool)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

func TestHTTP(t *testing.T) {
	pool, rc := setup(t)
	ctx := context.Background()
	require.NoError(t, Setup(ctx, pool, []CourseSpec{{ID: 7, Capacity: 1}}, []string{"A1", "A2"}))
	srv := httptest.NewServer((&Server{DB: pool, Redis: rc}).Handler())
	defer srv.Close()

	client := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar, Timeout: 5 * time.Second}
	}
	do := func(c *http.Client, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := c.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = fmt.Fprint(&b, resp.Header.Get("Content-Type"))
		buf := make([]byte, 512)
		n, _ := resp.Body.Read(buf)
		return resp.StatusCode, string(buf[:n])
	}
	a1, a2, anon := client(), client(), client()
	st, _ := do(anon, "POST", "/enroll/7", "")
	assert.Equal(t, 401, st, "no session")
	st, _ = do(a1, "POST", "/login", `{"studentNo":"nobody"}`)
	assert.Equal(t, 401, st, "unknown student")
	st, _ = do(a1, "POST", "/login", `{"studentNo":"A1"}`)
	require.Equal(t, 200, st)
	st, _ = do(a2, "POST", "/login", `{"studentNo":"A2"}`)
	require.Equal(t, 200, st)

	st, body := do(a1, "POST", "/enroll/7", "")
	assert.Equal(t, 200, st)
	assert.Contains(t, body, `"enrolled"`)
	st, body = do(a2, "POST", "/enroll/7", "")
	assert.Equal(t, 200, st)
	assert.Contains(t, body, `"full"`)
	st, _ = do(a2, "POST", "/enroll/8", "")
	assert.Equal(t, 404, st, "unknown course")
	st, _ = do(a2, "DELETE", "/enroll/7", "")
	assert.Equal(t, 404, st, "not enrolled")
	st, _ = do(a1, "DELETE", "/enroll/7", "")
	assert.Equal(t, 204, st)
	st, body = do(a2, "POST", "/enroll/7", "")
	assert.Equal(t, 200, st)
	assert.Contains(t, body, `"enrolled"`, "freed seat can be taken")
	_, problems, err := Check(ctx, pool)
	require.NoError(t, err)
	assert.Empty(t, problems)
}
