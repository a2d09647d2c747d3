package surgeapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientContract(t *testing.T) {
	var imports []int
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/admin/students", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "Bearer tok", r.Header.Get("Authorization"))
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		var list []Student
		require.NoError(t, json.NewDecoder(r.Body).Decode(&list))
		imports = append(imports, len(list))
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]int{"created": len(list)})
	})
	mux.HandleFunc("POST /api/admin/courses", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(409)
		w.Write([]byte(`{"error":{"code":"conflict","message":"duplicate code"}}`))
	})
	mux.HandleFunc("POST /api/login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "abc", HttpOnly: true})
		w.Write([]byte(`{}`))
	})
	mux.HandleFunc("POST /api/courses/7/queue", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") != "sid=abc" {
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(202)
		w.Write([]byte(`{"state":"queued","ticket":4294967297,"position":3}`))
	})
	mux.HandleFunc("GET /api/courses/7/queue", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(503)
		w.Write([]byte(`not json`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := &Client{Base: srv.URL, AdminToken: "tok"}
	ctx := context.Background()

	students := make([]Student, MaxStudentsPerImport+5)
	n, err := c.ImportStudents(ctx, students)
	require.NoError(t, err)
	assert.Equal(t, len(students), n)
	assert.Equal(t, []int{MaxStudentsPerImport, 5}, imports, "imports split at the contract's 10,000 limit")

	_, err = c.CreateCourse(ctx, NewCourse{Code: "X"})
	assert.Equal(t, 409, StatusOf(err))
	var ae *Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "conflict", ae.Code)
	assert.Equal(t, "duplicate code", ae.Message)

	s, err := c.Login(ctx, "S1", "pw")
	require.NoError(t, err)
	assert.Equal(t, "sid=abc", s.Cookie)
	q, err := s.Join(ctx, 7)
	require.NoError(t, err)
	assert.Equal(t, QueueState{State: "queued", Ticket: 4294967297, Position: 3}, q)
	assert.False(t, q.Final())
	assert.True(t, QueueState{State: "full"}.Final())

	_, err = s.State(ctx, 7)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 503, ae.Status)
	assert.Equal(t, "1", ae.RetryAfter)
	assert.Equal(t, "not json", ae.Message, "a non-JSON error body is kept as the message")
	assert.Equal(t, 0, StatusOf(assert.AnError))
}

func TestLoginWithoutCookieFails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	defer srv.Close()
	_, err := (&Client{Base: srv.URL}).Login(context.Background(), "S1", "pw")
	assert.ErrorContains(t, err, "without a session cookie")
}
