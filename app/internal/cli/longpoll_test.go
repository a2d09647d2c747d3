package cli_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/cli"
)

// TestSIGTERMAnswersWaiters: through cli.Run, a status request waiting for
// a final state when SIGTERM arrives answers at once with the student's
// position, and the process drains cleanly, far inside the drain time.
func TestSIGTERMAnswersWaiters(t *testing.T) {
	vars := baseEnv(t, newDatabase(t))
	// The admitter's first round runs at start; the next one would come
	// only after the test: the student stays queued.
	vars["SURGE_ADMIT_INTERVAL"] = "30s"
	vars["SURGE_ADMIT_LEASE"] = "2m"
	srv := startServe(t, vars)
	base := "http://" + srv.addr
	admin := env.NewClient(t, base)
	r := admin.Admin("POST", "/api/admin/courses", map[string]any{"code": "W1", "title": "t", "capacity": 5, "opensAt": "2020-01-01T00:00:00Z"})
	require.Equal(t, http.StatusCreated, r.Status, "create course: %s", r.Body)
	id := int64(r.JSON()["id"].(float64))
	r = admin.Admin("POST", "/api/admin/students", `[{"studentNo":"w1","name":"n","password":"p"}]`)
	require.Equal(t, http.StatusCreated, r.Status, "import: %s", r.Body)
	c := env.NewClient(t, base)
	require.Equal(t, http.StatusOK, c.Must("POST", "/api/login", map[string]string{"studentNo": "w1", "password": "p"}).Status)
	path := fmt.Sprintf("/api/courses/%d/queue", id)
	require.Equal(t, http.StatusAccepted, c.Must("POST", path, nil).Status)

	type answer struct {
		status int
		body   map[string]any
		at     time.Time
	}
	got := make(chan answer, 1)
	start := time.Now()
	go func() {
		r, err := c.Do("GET", path+"?wait=4", nil)
		assert.NoError(t, err)
		got <- answer{status: r.Status, body: r.JSON(), at: time.Now()}
	}()
	time.Sleep(300 * time.Millisecond) // the request is waiting
	select {
	case a := <-got:
		t.Fatalf("answered before SIGTERM: %d %v", a.status, a.body)
	default:
	}
	srv.sigterm()
	drainStart := time.Now()
	a := <-got
	t.Logf("waiting %s, answered %s after SIGTERM", drainStart.Sub(start), a.at.Sub(drainStart))
	assert.Less(t, a.at.Sub(drainStart), time.Second, "answered at once, not at the end of its wait")
	assert.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, "queued", a.body["state"])
	assert.EqualValues(t, 1, a.body["position"])
	srv.wait(t, 20*time.Second, "clean drain")
	t.Logf("drained in %s (SURGE_DRAIN_TIMEOUT %s)", time.Since(drainStart), vars["SURGE_DRAIN_TIMEOUT"])
}

// serving is a `surge serve` started by startServe.
type serving struct {
	addr    string
	sigterm context.CancelFunc // what SIGTERM does to cli.Run
	done    chan error
}

// startServe runs `surge serve` with vars (until sigterm or the test's
// end) and returns once it listens.
func startServe(t *testing.T, vars map[string]string) *serving {
	t.Helper()
	logs := &logLines{}
	ctx, sigterm := context.WithCancel(context.Background())
	t.Cleanup(sigterm)
	s := &serving{sigterm: sigterm, done: make(chan error, 1)}
	go func() { s.done <- cli.Run(ctx, []string{"surge", "serve"}, getenv(vars), logs.writer(), io.Discard) }()
	require.Eventually(t, func() bool {
		s.addr = logs.find("http server listening", "addr")
		return s.addr != ""
	}, 60*time.Second, 20*time.Millisecond, "server started")
	return s
}

// wait requires cli.Run to return without error within d.
func (s *serving) wait(t *testing.T, d time.Duration, what string) {
	t.Helper()
	select {
	case err := <-s.done:
		require.NoError(t, err, what)
	case <-time.After(d):
		t.Fatalf("serve did not return within %s (%s)", d, what)
	}
}
