package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/testenv"
)

// syncBuffer is a log sink shared by the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// auditLines returns the "admin action" records of a JSON log.
func auditLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "log line %q", line)
		if m["msg"] == "admin action" {
			out = append(out, m)
		}
	}
	return out
}

// TestAdminActionsAreAudited: every admin request, allowed or refused,
// leaves one JSON line saying who, what and the result, and the token
// appears nowhere in the log.
func TestAdminActionsAreAudited(t *testing.T) {
	var log syncBuffer
	f := newFixture(t, testenv.AppOptions{Logger: slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	id := f.course("AUD1", 10, past)
	f.students("a1")
	anon := env.NewClient(t, f.app.HTTP.URL)
	wrong := "wrong-token-0123456789abcdefghijklmnop"
	r := anon.Must("PUT", fmt.Sprintf("/api/admin/courses/%d", id), map[string]any{"capacity": 5}, "Authorization", "Bearer "+wrong, "X-Forwarded-For", "203.0.113.7")
	require.Equal(t, http.StatusUnauthorized, r.Status)
	r = anon.Must("POST", "/api/admin/courses", map[string]any{"code": "X"})
	require.Equal(t, http.StatusUnauthorized, r.Status)
	r = f.admin.Admin("PUT", fmt.Sprintf("/api/admin/courses/%d", id), map[string]any{"capacity": 0})
	require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Body)
	r = f.admin.Admin("PUT", fmt.Sprintf("/api/admin/courses/%d", id), map[string]any{"capacity": 20})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

	lines := auditLines(t, log.String())
	type row struct{ who, route, target, result, forwarded string }
	var got []row
	for _, m := range lines {
		got = append(got, row{m["who"].(string), m["route"].(string), m["target"].(string), m["result"].(string), m["forwarded_for"].(string)})
		assert.NotEmpty(t, m["remote_addr"], "who: the caller's address")
		assert.NotZero(t, m["status"], "result: the status")
	}
	sum := sha256hex(testenv.AdminToken)[:8]
	put := "PUT /api/admin/courses/{id}"
	target := fmt.Sprintf("id=%d", id)
	assert.Equal(t, []row{
		{"admin-token:" + sum, "POST /api/admin/courses", "", "ok", ""},
		{"admin-token:" + sum, "POST /api/admin/students", "", "ok", ""},
		{"anonymous", put, target, "denied", "203.0.113.7"},
		{"anonymous", "POST /api/admin/courses", "", "denied", ""},
		{"admin-token:" + sum, put, target, "failed", ""},
		{"admin-token:" + sum, put, target, "ok", ""},
	}, got, "one audit line per admin request, in order")
	assert.NotContains(t, log.String(), testenv.AdminToken, "the admin token is never logged")
	assert.NotContains(t, log.String(), wrong, "nor a wrong one")
}

// TestAdminTokenRotation: the token in force is asked for on every request,
// so a rotated secret takes over without a restart; a token source that
// fails refuses everyone (503), it never falls open.
func TestAdminTokenRotation(t *testing.T) {
	var current atomic.Value
	current.Store("first-token-0123456789abcdefghijklmnop")
	var broken atomic.Bool
	f := newFixture(t, testenv.AppOptions{AdminTokenFunc: func(context.Context) (string, error) {
		if broken.Load() {
			return "", errors.New("secrets manager unreachable and nothing cached")
		}
		return current.Load().(string), nil
	}})
	c := env.NewClient(t, f.app.HTTP.URL)
	create := func(token, code string) int {
		return c.Must("POST", "/api/admin/courses", map[string]any{"code": code, "title": code, "capacity": 1, "opensAt": past},
			"Authorization", "Bearer "+token).Status
	}
	assert.Equal(t, http.StatusCreated, create("first-token-0123456789abcdefghijklmnop", "R1"))
	assert.Equal(t, http.StatusUnauthorized, create(testenv.AdminToken, "R2"), "the static token is not used when a source is set")
	current.Store("second-token-0123456789abcdefghijklmno")
	assert.Equal(t, http.StatusUnauthorized, create("first-token-0123456789abcdefghijklmnop", "R3"), "the old token stops working")
	assert.Equal(t, http.StatusCreated, create("second-token-0123456789abcdefghijklmno", "R4"), "the rotated token works")
	broken.Store(true)
	assert.Equal(t, http.StatusServiceUnavailable, create("second-token-0123456789abcdefghijklmno", "R5"), "no token: refused")
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
