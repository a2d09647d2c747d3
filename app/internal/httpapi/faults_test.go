package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/testenv"
)

// TestDependencyDownAnswers503: with Redis unreachable, then PostgreSQL
// stopped, every route that needs the missing dependency answers 503 with
// Retry-After and a JSON error, never 500, never a hang.
func TestDependencyDownAnswers503(t *testing.T) {
	sh := env.NewShared(t)
	proxy := testenv.NewProxy(t, env.Redis.Addr())
	app := env.NewApp(t, sh, testenv.AppOptions{NoAdmitter: true, RedisAddr: proxy.Addr()})
	f := &fixture{t: t, app: app, admin: env.NewClient(t, app.HTTP.URL)}
	course := f.course("DOWN", 1, past)
	f.students("d1")
	c := f.login("d1")
	q := fmt.Sprintf("/api/courses/%d/queue", course)
	require.Equal(t, http.StatusAccepted, c.Must("POST", q, nil).Status)

	check := func(what string, r testenv.Response, took time.Duration) {
		t.Helper()
		assertError(t, r, http.StatusServiceUnavailable, "unavailable", what)
		require.Less(t, took, 3*time.Second, "%s: fails fast", what)
	}
	do := func(cl *testenv.Client, method, path string, body any, admin bool) (testenv.Response, time.Duration) {
		start := time.Now()
		if admin {
			return cl.Admin(method, path, body), time.Since(start)
		}
		return cl.Must(method, path, body), time.Since(start)
	}

	proxy.SetDown(true)
	for _, rt := range []struct{ method, path string }{
		{"GET", q}, {"POST", q}, {"DELETE", q}, {"GET", "/api/enrollments"},
		{"DELETE", fmt.Sprintf("/api/enrollments/%d", course)},
	} {
		r, took := do(c, rt.method, rt.path, nil, false)
		check("redis down: "+rt.method+" "+rt.path, r, took)
	}
	proxy.SetDown(false)

	require.NoError(t, env.PG.Stop(context.Background()))
	defer func() { require.NoError(t, env.PG.Start(context.Background())) }()
	for _, rt := range []struct {
		method, path string
		body         any
		admin        bool
	}{
		{"POST", "/api/login", map[string]string{"studentNo": "d1", "password": "pw-d1"}, false},
		{"GET", "/api/enrollments", nil, false},
		{"DELETE", fmt.Sprintf("/api/enrollments/%d", course), nil, false},
		{"POST", "/api/admin/courses", map[string]any{"code": "N", "title": "N", "capacity": 1, "opensAt": past}, true},
		{"PUT", fmt.Sprintf("/api/admin/courses/%d", course), map[string]any{"capacity": 2}, true},
	} {
		cl := c
		if rt.admin {
			cl = f.admin
		}
		r, took := do(cl, rt.method, rt.path, rt.body, rt.admin)
		check("postgres down: "+rt.method+" "+rt.path, r, took)
	}
}
