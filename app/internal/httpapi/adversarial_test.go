package httpapi_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/testenv"
)

// TestBadInputNever500 sends inputs that pass JSON decoding but that
// PostgreSQL or the JSON encoder would refuse later (NUL characters, times
// outside years 0..9999 once in UTC): each must be a 400, never a 500, and
// must not leave a course behind that breaks the course list for everyone.
func TestBadInputNever500(t *testing.T) {
	f := newFixture(t, testenv.AppOptions{NoAdmitter: true})
	id := f.course("ADV1", 5, past)
	f.students("adv-1")
	student := f.login("adv-1")

	course := func(code, title, opensAt string) string {
		return `{"code":"` + code + `","title":"` + title + `","capacity":5,"opensAt":"` + opensAt + `"}`
	}
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"create code with NUL", "POST", "/api/admin/courses", course(`A\u0000B`, "t", past), 400},
		{"create title with NUL", "POST", "/api/admin/courses", course("NUL2", `t\u0000`, past), 400},
		{"create opensAt year 10000 in UTC", "POST", "/api/admin/courses", course("Y10K", "t", "9999-12-31T23:00:00-05:00"), 400},
		{"create opensAt year -1 in UTC", "POST", "/api/admin/courses", course("YNEG", "t", "0000-01-01T00:00:00+05:00"), 400},
		{"create opensAt lowercase t", "POST", "/api/admin/courses", course("LOWT", "t", "2020-01-01t00:00:00z"), 400},
		{"create opensAt no zone", "POST", "/api/admin/courses", course("NOZ", "t", "2020-01-01T00:00:00"), 400},
		{"create opensAt offset 24h", "POST", "/api/admin/courses", course("O24", "t", "2020-01-01T00:00:00+24:00"), 400},
		{"update title with NUL", "PUT", "/api/admin/courses/" + itoa(id), `{"title":"x\u0000"}`, 400},
		{"update opensAt year 10000", "PUT", "/api/admin/courses/" + itoa(id), `{"opensAt":"9999-12-31T23:59:59-00:01"}`, 400},
		{"import studentNo with NUL", "POST", "/api/admin/students", `[{"studentNo":"s\u0000","name":"n","password":"p"}]`, 400},
		{"import name with NUL", "POST", "/api/admin/students", `[{"studentNo":"s-nul","name":"n\u0000","password":"p"}]`, 400},
		{"import password with NUL ok", "POST", "/api/admin/students", `[{"studentNo":"s-pw-nul","name":"n","password":"p\u0000"}]`, 201},
		{"import capacity-like number", "POST", "/api/admin/students", `[{"studentNo":1,"name":"n","password":"p"}]`, 400},
		{"import 10001", "POST", "/api/admin/students", tooMany(), 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.admin.Admin(tc.method, tc.path, tc.body)
			if tc.status >= 400 {
				assertError(t, r, tc.status, "invalid_request", tc.name)
			} else {
				assert.Equal(t, tc.status, r.Status, "%s: %s", tc.name, r.Body)
			}
		})
	}

	anon := env.NewClient(t, f.app.HTTP.URL)
	r := anon.Must("POST", "/api/login", `{"studentNo":"a\u0000","password":"x"}`)
	assert.Contains(t, []int{400, 401}, r.Status, "login studentNo with NUL: %s", r.Body)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"), "login studentNo with NUL")
	r = anon.Must("POST", "/api/login", `{"studentNo":"`+strings.Repeat("a", 500000)+`","password":"x"}`)
	assert.Equal(t, 400, r.Status, "login with a huge studentNo (length bound): %s", r.Body)

	// The course list still works for everyone after all of that.
	r = student.Must("GET", "/api/courses", nil)
	require.Equal(t, http.StatusOK, r.Status, "course list after bad input: %s", r.Body)

	// Path ids that cannot name a course, on every route that takes one.
	for _, p := range []string{"abc", "-1", "0", "99999999999999999999", "9223372036854775808", "1.5", "%00", "1%2F2", "+1", "0x1", "%20", "1e3"} {
		for _, rt := range []struct{ method, path string }{
			{"GET", "/api/courses/" + p + "/queue"},
			{"POST", "/api/courses/" + p + "/queue"},
			{"DELETE", "/api/courses/" + p + "/queue"},
			{"DELETE", "/api/enrollments/" + p},
		} {
			r := student.Must(rt.method, rt.path, nil)
			assertError(t, r, http.StatusNotFound, "", rt.method+" "+rt.path)
		}
		r := f.admin.Admin("PUT", "/api/admin/courses/"+p, `{"title":"x"}`)
		assertError(t, r, http.StatusNotFound, "", "PUT course "+p)
	}
	// Wrong methods and odd paths: a JSON 4xx, never a 5xx or a non-JSON body.
	for _, rt := range []struct{ method, path string }{
		{"PATCH", "/api/courses"}, {"DELETE", "/api/courses"}, {"PUT", "/api/login"}, {"GET", "/api/login"},
		{"POST", "/api/admin/courses/1"}, {"GET", "/api/courses/1/queue/"}, {"GET", "/api/courses//queue"},
		{"GET", "/api/courses/1/queue?id=2&id=3"},
	} {
		r := student.Must(rt.method, rt.path, nil)
		assert.True(t, r.Status >= 400 && r.Status < 500 || r.Status == http.StatusOK || r.Status == http.StatusMovedPermanently,
			"%s %s: status %d (body %s)", rt.method, rt.path, r.Status, r.Body)
		if r.Status >= 400 {
			assert.Equal(t, "application/json", r.Header.Get("Content-Type"), "%s %s: JSON error (body %s)", rt.method, rt.path, r.Body)
		}
	}

	// The largest id that parses but names nothing.
	r = student.Must("POST", "/api/courses/9223372036854775807/queue", nil)
	assertError(t, r, http.StatusNotFound, "not_found", "join max int64 course")

	// Garbled or foreign session cookies are a 401, never a 500.
	for _, v := range []string{"", "x", strings.Repeat("A", 43), strings.Repeat("é", 20), strings.Repeat("z", 4000)} {
		c := env.NewClient(t, f.app.HTTP.URL)
		r := c.Must("GET", "/api/enrollments", nil, "Cookie", "surge_session="+v)
		assertError(t, r, http.StatusUnauthorized, "unauthorized", "cookie "+v[:min(len(v), 10)])
	}
	for _, h := range []string{"Bearer", "Bearer ", "bearer " + testenv.AdminToken, "Basic " + testenv.AdminToken, "Bearer " + testenv.AdminToken + "x", testenv.AdminToken} {
		r := f.admin.Must("POST", "/api/admin/courses", course("TOK", "t", past), "Authorization", h)
		assertError(t, r, http.StatusUnauthorized, "unauthorized", "admin header "+h[:min(len(h), 8)])
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func tooMany() string {
	var b strings.Builder
	b.WriteString("[")
	for i := range 10001 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"studentNo":"m` + strconv.Itoa(i) + `","name":"n","password":"p"}`)
	}
	b.WriteString("]")
	return b.String()
}
