package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/testenv"
)

func TestSmokeJoinIsAdmitted(t *testing.T) {
	sh := env.NewShared(t)
	app := env.NewApp(t, sh, testenv.AppOptions{})
	c := env.NewClient(t, app.HTTP.URL)
	r := c.Admin("POST", "/api/admin/courses", map[string]any{"code": "CS101", "title": "Intro", "capacity": 2, "opensAt": "2020-01-01T00:00:00Z"})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	id := int64(r.JSON()["id"].(float64))
	var students []map[string]string
	for i := range 3 {
		students = append(students, map[string]string{"studentNo": fmt.Sprint("s", i), "name": "n", "password": "pw"})
	}
	r = c.Admin("POST", "/api/admin/students", students)
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	for i := range 3 {
		sc := env.NewClient(t, app.HTTP.URL)
		r = sc.Must("POST", "/api/login", map[string]string{"studentNo": fmt.Sprint("s", i), "password": "pw"})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		r = sc.Must("POST", fmt.Sprintf("/api/courses/%d/queue", id), nil)
		require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))
		t.Logf("join: %s", r.Body)
		want := "enrolled"
		if i == 2 {
			want = "full"
		}
		require.Eventually(t, func() bool {
			r = sc.Must("GET", fmt.Sprintf("/api/courses/%d/queue", id), nil)
			return r.JSON()["state"] == want
		}, 5*time.Second, 20*time.Millisecond, "student %d", i)
		t.Logf("status: %s", r.Body)
	}
	r = c.Must("GET", "/api/courses", nil)
	t.Logf("%s", r.Body)
	assert.Equal(t, http.StatusOK, r.Status)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}
