package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/testenv"
)

const past = "2020-01-01T00:00:00Z"

// fixture is one app on a fresh database with an admin client.
type fixture struct {
	t     *testing.T
	app   *testenv.App
	admin *testenv.Client
}

func newFixture(t *testing.T, o testenv.AppOptions) *fixture {
	t.Helper()
	sh := env.NewShared(t)
	app := env.NewApp(t, sh, o)
	return &fixture{t: t, app: app, admin: env.NewClient(t, app.HTTP.URL)}
}

func (f *fixture) course(code string, capacity int, opensAt string) int64 {
	f.t.Helper()
	r := f.admin.Admin("POST", "/api/admin/courses", map[string]any{"code": code, "title": "Title " + code, "capacity": capacity, "opensAt": opensAt})
	require.Equal(f.t, http.StatusCreated, r.Status, "create %s: %s", code, r.Body)
	return int64(r.JSON()["id"].(float64))
}

func (f *fixture) students(nos ...string) {
	f.t.Helper()
	var in []map[string]string
	for _, n := range nos {
		in = append(in, map[string]string{"studentNo": n, "name": "Name " + n, "password": "pw-" + n})
	}
	r := f.admin.Admin("POST", "/api/admin/students", in)
	require.Equal(f.t, http.StatusCreated, r.Status, "import: %s", r.Body)
}

func (f *fixture) login(no string) *testenv.Client {
	f.t.Helper()
	c := env.NewClient(f.t, f.app.HTTP.URL)
	r := c.Must("POST", "/api/login", map[string]string{"studentNo": no, "password": "pw-" + no})
	require.Equal(f.t, http.StatusOK, r.Status, "login %s: %s", no, r.Body)
	return c
}

// assertError checks status, JSON error shape and code; 503s carry Retry-After.
func assertError(t *testing.T, r testenv.Response, status int, code, what string) {
	t.Helper()
	assert.Equal(t, status, r.Status, "%s: status (body %s)", what, r.Body)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"), "%s: content type", what)
	if code != "" {
		assert.Equal(t, code, r.ErrorCode(), "%s: error code (body %s)", what, r.Body)
	}
	m := r.JSON()
	e, _ := m["error"].(map[string]any)
	msg, _ := e["message"].(string)
	assert.NotEmpty(t, msg, "%s: error message (body %s)", what, r.Body)
	assert.NotContains(t, string(r.Body), "goroutine", "%s: no stack traces", what)
	if status == http.StatusServiceUnavailable {
		assert.NotEmpty(t, r.Header.Get("Retry-After"), "%s: Retry-After", what)
	}
}

func TestHealth(t *testing.T) {
	f := newFixture(t, testenv.AppOptions{NoAdmitter: true})
	c := env.NewClient(t, f.app.HTTP.URL)
	assert.Equal(t, http.StatusOK, c.Must("GET", "/healthz", nil).Status, "healthz")
	assert.Equal(t, http.StatusOK, c.Must("GET", "/readyz", nil).Status, "readyz")
	assertError(t, c.Must("GET", "/nope", nil), http.StatusNotFound, "not_found", "unknown route")

	f.app.Server.Drain()
	assertError(t, c.Must("GET", "/healthz", nil), http.StatusServiceUnavailable, "draining", "healthz while draining")
	assertError(t, c.Must("GET", "/readyz", nil), http.StatusServiceUnavailable, "draining", "readyz while draining")
	assertError(t, c.Must("GET", "/api/courses", nil), http.StatusServiceUnavailable, "draining", "API while draining")
}

func TestCreateCourse(t *testing.T) {
	f := newFixture(t, testenv.AppOptions{NoAdmitter: true})
	valid := `{"code":"CS101","title":"Intro","capacity":30,"opensAt":"2020-01-01T00:00:00Z"}`
	r := f.admin.Admin("POST", "/api/admin/courses", valid)
	require.Equal(t, http.StatusCreated, r.Status, "valid create: %s", r.Body)
	got := r.JSON()
	assert.Equal(t, map[string]any{"id": got["id"], "code": "CS101", "title": "Intro", "capacity": 30.0, "enrolled": 0.0,
		"seatsLeft": 30.0, "opensAt": "2020-01-01T00:00:00Z", "open": true}, got, "created course body")
	assert.NotContains(t, string(r.Body), `"id":"`, "id is a JSON integer")

	big := `{"code":"X","title":"` + strings.Repeat("a", 1<<20) + `","capacity":1,"opensAt":"2020-01-01T00:00:00Z"}`
	tests := []struct {
		name   string
		body   string
		header []string
		status int
		code   string
	}{
		{"no token", valid, []string{"Authorization", ""}, 401, "unauthorized"},
		{"wrong token", valid, []string{"Authorization", "Bearer nope"}, 401, "unauthorized"},
		{"duplicate code", valid, nil, 409, "conflict"},
		{"capacity zero", `{"code":"A","title":"t","capacity":0,"opensAt":"2020-01-01T00:00:00Z"}`, nil, 400, "invalid_request"},
		{"capacity negative", `{"code":"A","title":"t","capacity":-5,"opensAt":"2020-01-01T00:00:00Z"}`, nil, 400, "invalid_request"},
		{"capacity too big", `{"code":"A","title":"t","capacity":100001,"opensAt":"2020-01-01T00:00:00Z"}`, nil, 400, "invalid_request"},
		{"capacity string", `{"code":"A","title":"t","capacity":"5","opensAt":"2020-01-01T00:00:00Z"}`, nil, 400, "invalid_request"},
		{"capacity fraction", `{"code":"A","title":"t","capacity":1.5,"opensAt":"2020-01-01T00:00:00Z"}`, nil, 400, "invalid_request"},
		{"capacity huge number", `{"code":"A","title":"t","capacity":1e400,"opensAt":"2020-01-01T00:00:00Z"}`, nil, 400, "invalid_request"},
		{"missing title", `{"code":"A","capacity":5,"opensAt":"2020-01-01T00:00:00Z"}`, nil, 400, "invalid_request"},
		{"null title", `{"code":"A","title":null,"capacity":5,"opensAt":"2020-01-01T00:00:00Z"}`, nil, 400, "invalid_request"},
		{"empty code", `{"code":" ","title":"t","capacity":5,"opensAt":"2020-01-01T00:00:00Z"}`, nil, 400, "invalid_request"},
		{"bad opensAt", `{"code":"A","title":"t","capacity":5,"opensAt":"tomorrow"}`, nil, 400, "invalid_request"},
		{"unknown field", `{"code":"A","title":"t","capacity":5,"opensAt":"2020-01-01T00:00:00Z","x":1}`, nil, 400, "invalid_request"},
		{"malformed", `{"code":"A",`, nil, 400, "invalid_request"},
		{"syntax error", `{"code" "A"}`, nil, 400, "invalid_request"},
		{"trailing data", valid + `{}`, nil, 400, "invalid_request"},
		{"empty body", ``, nil, 400, "invalid_request"},
		{"array body", `[]`, nil, 400, "invalid_request"},
		{"invalid utf-8", "{\"code\":\"A\xff\",\"title\":\"t\",\"capacity\":5,\"opensAt\":\"2020-01-01T00:00:00Z\"}", nil, 400, "invalid_request"},
		{"text/plain", valid, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"no content type", valid, []string{"Content-Type", ""}, 415, "unsupported_media_type"},
		{"json with charset ok but duplicate", valid, []string{"Content-Type", "application/json; charset=utf-8"}, 409, "conflict"},
		{"over 1 MiB", big, nil, 413, "payload_too_large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := append([]string{"Authorization", "Bearer " + testenv.AdminToken}, tc.header...)
			r := f.admin.Must("POST", "/api/admin/courses", tc.body, h...)
			assertError(t, r, tc.status, tc.code, tc.name)
		})
	}
}

func TestUpdateCourse(t *testing.T) {
	f := newFixture(t, testenv.AppOptions{})
	id := f.course("UP1", 2, past)
	f.students("u1", "u2", "u3")
	for _, no := range []string{"u1", "u2"} {
		c := f.login(no)
		require.Equal(t, http.StatusAccepted, c.Must("POST", fmt.Sprintf("/api/courses/%d/queue", id), nil).Status)
		waitState(t, c, id, "enrolled")
	}
	path := fmt.Sprintf("/api/admin/courses/%d", id)

	r := f.admin.Admin("PUT", path, `{"title":"New title"}`)
	require.Equal(t, http.StatusOK, r.Status, "title only: %s", r.Body)
	assert.Equal(t, "New title", r.JSON()["title"], "title changed")
	assert.Equal(t, 2.0, r.JSON()["capacity"], "capacity unchanged by a partial update")
	assert.Equal(t, past, r.JSON()["opensAt"], "opensAt unchanged by a partial update")

	r = f.admin.Admin("PUT", path, `{}`)
	assert.Equal(t, http.StatusOK, r.Status, "empty update: %s", r.Body)

	r = f.admin.Admin("PUT", path, `{"capacity":3,"opensAt":"2021-01-01T00:00:00+09:00"}`)
	require.Equal(t, http.StatusOK, r.Status, "capacity up: %s", r.Body)
	assert.Equal(t, 3.0, r.JSON()["capacity"], "capacity")
	assert.Equal(t, "2020-12-31T15:00:00Z", r.JSON()["opensAt"], "opensAt normalised to UTC")

	tests := []struct {
		name, path, body string
		header           []string
		status           int
		code             string
	}{
		{"below seats taken", path, `{"capacity":1}`, nil, 409, "conflict"},
		{"capacity zero", path, `{"capacity":0}`, nil, 400, "invalid_request"},
		{"capacity too big", path, `{"capacity":100001}`, nil, 400, "invalid_request"},
		{"code is not updatable", path, `{"code":"X"}`, nil, 400, "invalid_request"},
		{"bad opensAt", path, `{"opensAt":"2020-13-01"}`, nil, 400, "invalid_request"},
		{"unknown course", "/api/admin/courses/999999", `{"title":"x"}`, nil, 404, "not_found"},
		{"non-numeric id", "/api/admin/courses/abc", `{"title":"x"}`, nil, 404, "not_found"},
		{"zero id", "/api/admin/courses/0", `{"title":"x"}`, nil, 404, "not_found"},
		{"negative id", "/api/admin/courses/-1", `{"title":"x"}`, nil, 404, "not_found"},
		{"id overflow", "/api/admin/courses/99999999999999999999", `{"title":"x"}`, nil, 404, "not_found"},
		{"no token", path, `{"title":"x"}`, []string{"Authorization", ""}, 401, "unauthorized"},
		{"wrong content type", path, `{"title":"x"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := append([]string{"Authorization", "Bearer " + testenv.AdminToken}, tc.header...)
			assertError(t, f.admin.Must("PUT", tc.path, tc.body, h...), tc.status, tc.code, tc.name)
		})
	}

	// The capacity increase gave the third student a seat right away.
	c := f.login("u3")
	require.Equal(t, http.StatusAccepted, c.Must("POST", fmt.Sprintf("/api/courses/%d/queue", id), nil).Status)
	waitState(t, c, id, "enrolled")
}

func TestImportStudents(t *testing.T) {
	f := newFixture(t, testenv.AppOptions{NoAdmitter: true})
	r := f.admin.Admin("POST", "/api/admin/students", `[{"studentNo":"a1","name":"A","password":"p1"},{"studentNo":"a2","name":"B","password":"p2"},{"studentNo":"a1","name":"dup","password":"p3"}]`)
	require.Equal(t, http.StatusCreated, r.Status, "import: %s", r.Body)
	assert.Equal(t, map[string]any{"created": 2.0}, r.JSON(), "duplicates within one call count once")

	r = f.admin.Admin("POST", "/api/admin/students", `[{"studentNo":"a1","name":"Changed","password":"changed"},{"studentNo":"a3","name":"C","password":"p3"}]`)
	require.Equal(t, http.StatusCreated, r.Status, "re-import: %s", r.Body)
	assert.Equal(t, map[string]any{"created": 1.0}, r.JSON(), "only new students count")

	c := env.NewClient(t, f.app.HTTP.URL)
	assert.Equal(t, http.StatusOK, c.Must("POST", "/api/login", `{"studentNo":"a1","password":"p1"}`).Status, "repeating a studentNo keeps the password")
	assertError(t, c.Must("POST", "/api/login", `{"studentNo":"a1","password":"changed"}`), 401, "unauthorized", "new password ignored")

	var many strings.Builder
	many.WriteString("[")
	for i := range 10001 {
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `{"studentNo":"m%d","name":"n","password":"p"}`, i)
	}
	many.WriteString("]")
	tests := []struct {
		name, body string
		header     []string
		status     int
		code       string
	}{
		{"missing password", `[{"studentNo":"b1","name":"B"}]`, nil, 400, "invalid_request"},
		{"empty studentNo", `[{"studentNo":"","name":"B","password":"p"}]`, nil, 400, "invalid_request"},
		{"password over 72 bytes", `[{"studentNo":"b1","name":"B","password":"` + strings.Repeat("x", 73) + `"}]`, nil, 400, "invalid_request"},
		{"object instead of array", `{"studentNo":"b1","name":"B","password":"p"}`, nil, 400, "invalid_request"},
		{"wrong type", `[{"studentNo":1,"name":"B","password":"p"}]`, nil, 400, "invalid_request"},
		{"unknown field", `[{"studentNo":"b1","name":"B","password":"p","admin":true}]`, nil, 400, "invalid_request"},
		{"more than 10000", many.String(), nil, 400, "invalid_request"},
		{"no token", `[]`, []string{"Authorization", ""}, 401, "unauthorized"},
		{"wrong content type", `[]`, []string{"Content-Type", "application/xml"}, 415, "unsupported_media_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := append([]string{"Authorization", "Bearer " + testenv.AdminToken}, tc.header...)
			assertError(t, f.admin.Must("POST", "/api/admin/students", tc.body, h...), tc.status, tc.code, tc.name)
		})
	}
	r = f.admin.Admin("POST", "/api/admin/students", `[]`)
	assert.Equal(t, http.StatusCreated, r.Status, "empty import")
	assert.Equal(t, map[string]any{"created": 0.0}, r.JSON(), "empty import creates nothing")
}

func TestLoginLogout(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			f := newFixture(t, testenv.AppOptions{NoAdmitter: true, CookieSecure: secure})
			f.students("l1")
			c := env.NewClient(t, f.app.HTTP.URL)
			r := c.Must("POST", "/api/login", `{"studentNo":"l1","password":"pw-l1"}`)
			require.Equal(t, http.StatusOK, r.Status, "login: %s", r.Body)
			cookies := (&http.Response{Header: r.Header}).Cookies()
			require.Len(t, cookies, 1, "one session cookie")
			ck := cookies[0]
			assert.True(t, ck.HttpOnly, "HttpOnly")
			assert.Equal(t, secure, ck.Secure, "Secure follows configuration")
			assert.Equal(t, http.SameSiteLaxMode, ck.SameSite, "SameSite=Lax")
			student, sid, ok := strings.Cut(ck.Value, ".")
			assert.True(t, ok && student != "", "<student>.<id>: %q", ck.Value)
			assert.Len(t, sid, 43, "256-bit id, base64url")
			if secure {
				// The jar keeps Secure cookies away from http://; send it by hand.
				c.HTTP.Jar.SetCookies(mustURL(t, f.app.HTTP.URL), []*http.Cookie{{Name: ck.Name, Value: ck.Value}})
			}
			assert.Equal(t, http.StatusOK, c.Must("GET", "/api/enrollments", nil).Status, "session works")

			assert.Equal(t, http.StatusNoContent, c.Must("POST", "/api/logout", nil).Status, "logout")
			old := env.NewClient(t, f.app.HTTP.URL)
			old.HTTP.Jar.SetCookies(mustURL(t, f.app.HTTP.URL), []*http.Cookie{{Name: ck.Name, Value: ck.Value}})
			assertError(t, old.Must("GET", "/api/enrollments", nil), 401, "unauthorized", "old session after logout")
			assert.Equal(t, http.StatusNoContent, env.NewClient(t, f.app.HTTP.URL).Must("POST", "/api/logout", nil).Status, "logout without session")
		})
	}
	f := newFixture(t, testenv.AppOptions{NoAdmitter: true})
	f.students("l2")
	tests := []struct {
		name, body string
		header     []string
		status     int
		code       string
	}{
		{"wrong password", `{"studentNo":"l2","password":"nope"}`, nil, 401, "unauthorized"},
		{"unknown student", `{"studentNo":"zz","password":"pw-zz"}`, nil, 401, "unauthorized"},
		{"missing password", `{"studentNo":"l2"}`, nil, 400, "invalid_request"},
		{"wrong type", `{"studentNo":"l2","password":5}`, nil, 400, "invalid_request"},
		{"wrong content type", `{"studentNo":"l2","password":"pw-l2"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := env.NewClient(t, f.app.HTTP.URL).Must("POST", "/api/login", tc.body, tc.header...)
			assertError(t, r, tc.status, tc.code, tc.name)
			assert.Empty(t, r.Header.Get("Set-Cookie"), "%s: no cookie", tc.name)
		})
	}
	c := env.NewClient(t, f.app.HTTP.URL)
	c.HTTP.Jar.SetCookies(mustURL(t, f.app.HTTP.URL), []*http.Cookie{{Name: "surge_session", Value: "forged"}})
	assertError(t, c.Must("GET", "/api/enrollments", nil), 401, "unauthorized", "forged session")
}

func TestListCourses(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	f := newFixture(t, testenv.AppOptions{NoAdmitter: true, Now: func() time.Time { return now }})
	c := env.NewClient(t, f.app.HTTP.URL)
	r := c.Must("GET", "/api/courses", nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.JSONEq(t, `{"courses":[]}`, string(r.Body), "no courses yet")
	f.course("L1", 10, "2026-03-02T09:00:00Z")
	f.course("L2", 5, "2026-03-02T09:00:01Z")
	r = c.Must("GET", "/api/courses", nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.JSONEq(t, `{"courses":[
		{"id":1,"code":"L1","title":"Title L1","capacity":10,"enrolled":0,"seatsLeft":10,"opensAt":"2026-03-02T09:00:00Z","open":true},
		{"id":2,"code":"L2","title":"Title L2","capacity":5,"enrolled":0,"seatsLeft":5,"opensAt":"2026-03-02T09:00:01Z","open":false}]}`,
		string(r.Body), "a new course is listed at once (admin writes invalidate the cache)")
}

func waitState(t *testing.T, c *testenv.Client, course int64, want string) map[string]any {
	t.Helper()
	var last map[string]any
	require.Eventually(t, func() bool {
		r := c.Must("GET", fmt.Sprintf("/api/courses/%d/queue", course), nil)
		last = r.JSON()
		return r.Status == http.StatusOK && last["state"] == want
	}, 10*time.Second, 10*time.Millisecond, "waiting for state %q in course %d (last %v)", want, course, last)
	return last
}

func TestQueueAndEnrollments(t *testing.T) {
	f := newFixture(t, testenv.AppOptions{NoAdmitter: true})
	open := f.course("Q1", 1, past)
	later := f.course("Q2", 5, "2999-01-01T00:00:00Z")
	f.students("q1", "q2", "q3")
	s1, s2, s3 := f.login("q1"), f.login("q2"), f.login("q3")
	anon := env.NewClient(t, f.app.HTTP.URL)
	q := func(id int64) string { return fmt.Sprintf("/api/courses/%d/queue", id) }

	// Error cases first (table).
	tests := []struct {
		name   string
		c      *testenv.Client
		method string
		path   string
		status int
		code   string
	}{
		{"join without session", anon, "POST", q(open), 401, "unauthorized"},
		{"status without session", anon, "GET", q(open), 401, "unauthorized"},
		{"leave without session", anon, "DELETE", q(open), 401, "unauthorized"},
		{"enrollments without session", anon, "GET", "/api/enrollments", 401, "unauthorized"},
		{"cancel without session", anon, "DELETE", fmt.Sprintf("/api/enrollments/%d", open), 401, "unauthorized"},
		{"join unknown course", s1, "POST", q(424242), 404, "not_found"},
		{"join non-numeric id", s1, "POST", "/api/courses/abc/queue", 404, "not_found"},
		{"status unknown course", s1, "GET", q(424242), 404, "not_found"},
		{"status non-numeric id", s1, "GET", "/api/courses/x1/queue", 404, "not_found"},
		{"join not open yet", s1, "POST", q(later), 409, "not_open"},
		{"leave when not queued", s1, "DELETE", q(open), 404, "not_found"},
		{"cancel when not enrolled", s1, "DELETE", fmt.Sprintf("/api/enrollments/%d", open), 404, "not_found"},
		{"cancel non-numeric id", s1, "DELETE", "/api/enrollments/abc", 404, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertError(t, tc.c.Must(tc.method, tc.path, nil), tc.status, tc.code, tc.name)
		})
	}

	r := s1.Must("GET", q(open), nil)
	assert.JSONEq(t, `{"state":"none"}`, string(r.Body), "none has no ticket")

	// Joins: tickets strictly increase in join order; positions count those ahead.
	j1 := s1.Must("POST", q(open), nil)
	j2 := s2.Must("POST", q(open), nil)
	j3 := s3.Must("POST", q(open), nil)
	for i, j := range []testenv.Response{j1, j2, j3} {
		assert.Equal(t, http.StatusAccepted, j.Status, "join %d", i+1)
		assert.Equal(t, "queued", j.JSON()["state"], "join %d", i+1)
		assert.Equal(t, float64(i+1), j.JSON()["position"], "position of join %d", i+1)
	}
	t1, t2, t3 := j1.JSON()["ticket"].(float64), j2.JSON()["ticket"].(float64), j3.JSON()["ticket"].(float64)
	assert.Less(t, t1, t2, "tickets increase")
	assert.Less(t, t2, t3, "tickets increase")
	again := s2.Must("POST", q(open), nil)
	assert.Equal(t, http.StatusAccepted, again.Status, "joining again while queued")
	assert.Equal(t, t2, again.JSON()["ticket"], "joining again keeps the ticket")
	assert.Equal(t, 2.0, again.JSON()["position"], "position")

	// Leaving and re-joining goes to the back with a new ticket.
	assert.Equal(t, http.StatusNoContent, s2.Must("DELETE", q(open), nil).Status, "leave")
	assert.JSONEq(t, `{"state":"none"}`, string(s2.Must("GET", q(open), nil).Body), "after leaving")
	assert.Equal(t, 2.0, s3.Must("GET", q(open), nil).JSON()["position"], "s3 moved up")
	rejoin := s2.Must("POST", q(open), nil)
	t2b := rejoin.JSON()["ticket"].(float64)
	assert.Greater(t, t2b, t3, "re-join gets a new ticket at the back")

	// Admit: capacity 1 -> s1 enrolled, s3 and s2 full (in that order).
	f.app.Admitter.Tick(t.Context())
	assert.Equal(t, map[string]any{"state": "enrolled", "ticket": t1}, s1.Must("GET", q(open), nil).JSON(), "s1")
	assert.Equal(t, map[string]any{"state": "full", "ticket": t3}, s3.Must("GET", q(open), nil).JSON(), "s3")
	assert.Equal(t, map[string]any{"state": "full", "ticket": t2b}, s2.Must("GET", q(open), nil).JSON(), "s2")
	r = s1.Must("POST", q(open), nil)
	assert.Equal(t, http.StatusOK, r.Status, "joining while enrolled")
	assert.Equal(t, "enrolled", r.JSON()["state"], "joining while enrolled")
	r = s3.Must("POST", q(open), nil)
	assert.Equal(t, http.StatusOK, r.Status, "joining while full")
	assert.Equal(t, map[string]any{"state": "full", "ticket": t3}, r.JSON(), "joining while full keeps the ticket")

	r = s1.Must("GET", "/api/enrollments", nil)
	require.Equal(t, http.StatusOK, r.Status)
	es := r.JSON()["enrollments"].([]any)
	require.Len(t, es, 1, "one enrollment")
	e := es[0].(map[string]any)
	assert.Equal(t, float64(open), e["courseId"], "courseId")
	assert.Equal(t, "Q1", e["code"], "code")
	_, err := time.Parse(time.RFC3339, e["enrolledAt"].(string))
	assert.NoError(t, err, "enrolledAt is RFC 3339")

	// Cancel: the seat goes to the lowest full ticket (s3, not s2).
	assert.Equal(t, http.StatusNoContent, s1.Must("DELETE", fmt.Sprintf("/api/enrollments/%d", open), nil).Status, "cancel")
	assertError(t, s1.Must("DELETE", fmt.Sprintf("/api/enrollments/%d", open), nil), 404, "not_found", "cancel twice")
	assert.JSONEq(t, `{"state":"none"}`, string(s1.Must("GET", q(open), nil).Body), "after cancel")
	assert.JSONEq(t, `{"enrollments":[]}`, string(s1.Must("GET", "/api/enrollments", nil).Body), "enrollments after cancel")
	f.app.Admitter.Tick(t.Context())
	assert.Equal(t, "enrolled", s3.Must("GET", q(open), nil).JSON()["state"], "lowest full ticket got the freed seat")
	assert.Equal(t, "full", s2.Must("GET", q(open), nil).JSON()["state"], "higher full ticket still waits")

	// Leaving the waiting list.
	assert.Equal(t, http.StatusNoContent, s2.Must("DELETE", q(open), nil).Status, "leave while full")
	assert.JSONEq(t, `{"state":"none"}`, string(s2.Must("GET", q(open), nil).Body), "after leaving the waiting list")
	assertError(t, s2.Must("DELETE", q(open), nil), 404, "not_found", "leave twice")
}
