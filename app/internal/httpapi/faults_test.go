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

// TestAdminRevokesEverySession: an admin ends every session of a student
// (behind the admin token); other students keep theirs.
func TestAdminRevokesEverySession(t *testing.T) {
	f := newFixture(t, testenv.AppOptions{NoAdmitter: true})
	f.students("r1", "r2")
	laptop, phone, other := f.login("r1"), f.login("r1"), f.login("r2")
	path := "/api/admin/students/r1/sessions"

	anon := env.NewClient(t, f.app.HTTP.URL)
	assertError(t, anon.Must("DELETE", path, nil), http.StatusUnauthorized, "unauthorized", "no admin token")
	assertError(t, laptop.Must("DELETE", path, nil), http.StatusUnauthorized, "unauthorized", "a student session is not an admin")
	require.Equal(t, http.StatusOK, laptop.Must("GET", "/api/enrollments", nil).Status, "still signed in")

	r := f.admin.Admin("DELETE", path, nil)
	require.Equal(t, http.StatusOK, r.Status, "revoke: %s", r.Body)
	require.Equal(t, float64(2), r.JSON()["revoked"])
	for what, c := range map[string]*testenv.Client{"laptop": laptop, "phone": phone} {
		assertError(t, c.Must("GET", "/api/enrollments", nil), http.StatusUnauthorized, "unauthorized", what+" after revoke")
	}
	require.Equal(t, http.StatusOK, other.Must("GET", "/api/enrollments", nil).Status, "another student keeps their session")
	assertError(t, f.admin.Admin("DELETE", "/api/admin/students/nobody/sessions", nil), http.StatusNotFound, "not_found", "unknown student")
	f.login("r1") // signing in again works
}
