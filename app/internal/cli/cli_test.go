package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/cli"
	"github.com/surge-dev/surge/app/internal/postgres"
	"github.com/surge-dev/surge/app/internal/testenv"
)

// logLines collects JSON log lines and finds values in them.
type logLines struct {
	mu    sync.Mutex
	lines []map[string]any
}

func (l *logLines) writer() io.Writer {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				l.mu.Lock()
				l.lines = append(l.lines, m)
				l.mu.Unlock()
			}
		}
	}()
	return pw
}

func (l *logLines) find(msg, key string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.lines {
		if m["msg"] == msg {
			s, _ := m[key].(string)
			return s
		}
	}
	return ""
}

func (l *logLines) has(msg string) bool { return l.find(msg, "msg") != "" }

func baseEnv(t *testing.T, dbURL string) map[string]string {
	return map[string]string{
		"SURGE_LISTEN_ADDR":    "127.0.0.1:0",
		"SURGE_METRICS_ADDR":   "127.0.0.1:0",
		"SURGE_DATABASE_URL":   dbURL,
		"SURGE_REDIS_URL":      env.Redis.URL(),
		"SURGE_REDIS_PREFIX":   fmt.Sprintf("cli-%s-%d:", t.Name(), time.Now().UnixNano()),
		"SURGE_ADMIN_TOKEN":    testenv.AdminToken,
		"SURGE_COOKIE_SECURE":  "false",
		"SURGE_PASSWORD_HASH":  "fast",
		"SURGE_DRAIN_TIMEOUT":  "30s",
		"SURGE_ADMIT_INTERVAL": "20ms",
		"SURGE_LOG_LEVEL":      "debug",
	}
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func newDatabase(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := fmt.Sprintf("%s_%d", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_")), time.Now().UnixNano())
	url, err := env.PG.CreateDatabase(ctx, name) // unmigrated: the command under test migrates
	require.NoError(t, err)
	return url
}

// TestServeDrainsOnSIGTERM runs the whole program through cli.Run (what
// main's run calls), puts a long request in flight plus background load,
// then cancels the context as SIGTERM does. Invariant 6: health checks turn
// 503 at once, the listener stays open while the in-flight request
// finishes with its normal answer, new API requests get 503 + Retry-After,
// and Run returns nil (exit 0) within the drain timeout.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	vars := baseEnv(t, newDatabase(t))
	// Generous: under -race on a busy 2-core runner bcrypt alone can take
	// tens of seconds; the bound proves termination, not speed.
	vars["SURGE_DRAIN_TIMEOUT"] = "90s"
	logs := &logLines{}
	ctx, sigterm := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cli.Run(ctx, []string{"surge", "serve"}, getenv(vars), logs.writer(), io.Discard) }()

	var addr, maddr string
	require.Eventually(t, func() bool {
		addr, maddr = logs.find("http server listening", "addr"), logs.find("metrics server listening", "addr")
		return addr != "" && maddr != ""
	}, 60*time.Second, 20*time.Millisecond, "server started (migrations applied)")
	base := "http://" + addr
	admin := env.NewClient(t, base)
	r := admin.Admin("POST", "/api/admin/courses", map[string]any{"code": "D1", "title": "t", "capacity": 5, "opensAt": "2020-01-01T00:00:00Z"})
	require.Equal(t, http.StatusCreated, r.Status, "create course: %s", r.Body)

	// Background load while draining: every answer must be a normal one or
	// a 503 with Retry-After, never a 500 or a reset.
	var loadBad atomic.Int64
	var loadN atomic.Int64
	loadCtx, stopLoad := context.WithCancel(context.Background())
	var loadWG sync.WaitGroup
	for range 4 {
		loadWG.Go(func() {
			c := env.NewClient(t, base)
			for loadCtx.Err() == nil {
				r, err := c.Do("GET", "/api/courses", nil)
				if err != nil {
					return // the listener closed at the end of the drain
				}
				loadN.Add(1)
				if r.Status != http.StatusOK && !(r.Status == http.StatusServiceUnavailable && r.Header.Get("Retry-After") != "") {
					loadBad.Add(1)
				}
			}
		})
	}

	// The long request: a bulk import (bcrypt for every student). 600 at the
	// cheapest cost take ~0.3 s natively and ~10 s under -race on a loaded
	// 2-core machine: long enough to be in flight at SIGTERM, short enough
	// to finish well within the client timeout and the drain.
	const nImport = 600
	var students bytes.Buffer
	students.WriteString("[")
	for i := range nImport {
		if i > 0 {
			students.WriteString(",")
		}
		fmt.Fprintf(&students, `{"studentNo":"d%d","name":"n","password":"p"}`, i)
	}
	students.WriteString("]")
	imported := make(chan testenv.Response, 1)
	importer := env.NewClient(t, base)
	importer.HTTP.Timeout = 90 * time.Second
	go func() { imported <- importer.Admin("POST", "/api/admin/students", students.String()) }()
	require.Eventually(t, func() bool {
		r, err := http.Get("http://" + maddr + "/metrics")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return strings.Contains(string(b), `surge_http_requests_total{code="200",route="GET /api/courses"}`)
	}, 10*time.Second, 5*time.Millisecond, "metrics served")
	// What the CloudWatch agent imports for the dashboard and the stall
	// alarm (components/compute.Metric*): the queue and a summary, not
	// only the histogram the agent drops.
	mr, err := http.Get("http://" + maddr + "/metrics")
	require.NoError(t, err)
	page, _ := io.ReadAll(mr.Body)
	_ = mr.Body.Close()
	assert.Contains(t, string(page), "surge_waitroom_queued ")
	assert.Contains(t, string(page), `surge_admitter_batch_seconds{quantile="0.99"}`)
	time.Sleep(100 * time.Millisecond) // the import hashes 600 passwords: longer than this

	sigterm()
	drainStart := time.Now()
	hc := env.NewClient(t, base)
	require.Eventually(t, func() bool {
		r, err := hc.Do("GET", "/healthz", nil)
		return err == nil && r.Status == http.StatusServiceUnavailable
	}, time.Second, 5*time.Millisecond, "healthz turns 503 at once")
	assert.Less(t, time.Since(drainStart), time.Second, "healthz 503 right after SIGTERM")
	select {
	case r := <-imported:
		t.Fatalf("the import finished before SIGTERM (%d): the test proves nothing, make it longer", r.Status)
	default:
	}
	r = hc.Must("GET", "/readyz", nil)
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, "readyz while draining")
	r = hc.Must("GET", "/api/courses", nil)
	assert.Equal(t, http.StatusServiceUnavailable, r.Status, "new API request while draining")
	assert.NotEmpty(t, r.Header.Get("Retry-After"), "Retry-After while draining")

	select {
	case r := <-imported:
		assert.Equal(t, http.StatusCreated, r.Status, "in-flight import finished normally: %s", r.Body)
		assert.JSONEq(t, fmt.Sprintf(`{"created":%d}`, nImport), string(r.Body), "import result")
	case <-time.After(90 * time.Second):
		t.Fatal("in-flight request never finished")
	}
	select {
	case err := <-done:
		assert.NoError(t, err, "Run returns nil after a clean drain (exit 0)")
	case <-time.After(90 * time.Second):
		t.Fatal("Run did not return within the drain timeout")
	}
	stopLoad()
	loadWG.Wait()
	assert.Zero(t, loadBad.Load(), "load answers during the drain were 200 or 503+Retry-After (of %d)", loadN.Load())
	assert.True(t, logs.has("drained"), "drained logged")
	_, err = http.Get(base + "/healthz")
	assert.Error(t, err, "listener closed after the drain")
}

// TestMigrateCommand: `surge migrate` applies the schema, concurrently from
// several processes without racing (advisory lock), and is idempotent.
func TestMigrateCommand(t *testing.T) {
	url := newDatabase(t)
	vars := map[string]string{"SURGE_DATABASE_URL": url}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			errs[i] = cli.Run(context.Background(), []string{"surge", "migrate"}, getenv(vars), io.Discard, io.Discard)
		})
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "concurrent migrate %d", i)
	}
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var n int
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM schema_migrations").Scan(&n))
	ms, err := postgres.Migrations()
	require.NoError(t, err)
	assert.Equal(t, len(ms), n, "each migration applied once")
	assert.NoError(t, cli.Run(context.Background(), []string{"surge", "migrate"}, getenv(vars), io.Discard, io.Discard), "migrate again")
}

func TestRunUsageAndConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"no command", []string{"surge"}, nil, []string{"missing command"}},
		{"unknown command", []string{"surge", "fly"}, nil, []string{`unknown command "fly"`}},
		{"extra args", []string{"surge", "serve", "x"}, nil, []string{"takes no arguments"}},
		{"serve without config", []string{"surge", "serve"}, map[string]string{}, []string{"SURGE_DATABASE_URL", "SURGE_REDIS_URL", "SURGE_ADMIN_TOKEN"}},
		{"bad values, all reported", []string{"surge", "serve"}, map[string]string{
			"SURGE_DATABASE_URL": "mysql://x", "SURGE_REDIS_URL": "http://x", "SURGE_ADMIN_TOKEN": "t",
			"SURGE_ADMIT_BATCH": "-1", "SURGE_DRAIN_TIMEOUT": "soon", "SURGE_COOKIE_SECURE": "maybe",
		}, []string{"SURGE_DATABASE_URL", "SURGE_REDIS_URL", "SURGE_ADMIT_BATCH", "SURGE_DRAIN_TIMEOUT", "SURGE_COOKIE_SECURE"}},
		{"migrate needs only the database", []string{"surge", "migrate"}, map[string]string{}, []string{"SURGE_DATABASE_URL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := cli.Run(context.Background(), tc.args, getenv(tc.env), io.Discard, io.Discard)
			require.Error(t, err, "Run(%v)", tc.args)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w, "Run(%v) error", tc.args)
			}
		})
	}
	var out bytes.Buffer
	assert.NoError(t, cli.Run(context.Background(), []string{"surge", "help"}, getenv(nil), &out, io.Discard), "help")
	assert.Contains(t, out.String(), "  migrate ", "usage lists commands")
	out.Reset()
	require.NoError(t, cli.Run(context.Background(), []string{"surge", "version"}, getenv(nil), &out, io.Discard), "version")
	assert.Equal(t, fmt.Sprintf("surge dev %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH), out.String(), "unstamped build")
	assert.Error(t, cli.Run(context.Background(), []string{"surge", "version", "x"}, getenv(nil), io.Discard, io.Discard), "version takes no arguments")
}
