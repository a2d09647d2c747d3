package httpapi

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/surge"
)

func TestDecodeBody(t *testing.T) {
	tests := []struct {
		name, ct, body string
		want           surge.Code
	}{
		{"valid", "application/json", `{"code":"A","title":"t","capacity":1,"opensAt":"x"}`, ""},
		{"charset", "application/json; charset=utf-8", `{"code":"A"}`, ""},
		{"no content type", "", `{}`, surge.CodeUnsupportedMedia},
		{"form", "application/x-www-form-urlencoded", `{}`, surge.CodeUnsupportedMedia},
		{"bad media type", "application/json;;;", `{}`, surge.CodeUnsupportedMedia},
		{"too large", "application/json", `{"title":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, surge.CodeTooLarge},
		{"invalid utf-8", "application/json", "{\"code\":\"\xc3\x28\"}", surge.CodeInvalid},
		{"unknown field", "application/json", `{"nope":1}`, surge.CodeInvalid},
		{"wrong type", "application/json", `{"capacity":"1"}`, surge.CodeInvalid},
		{"two values", "application/json", `{} {}`, surge.CodeInvalid},
		{"empty", "application/json", ``, surge.CodeInvalid},
		{"truncated", "application/json", `{"code":`, surge.CodeInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v createCourseIn
			err := decodeBody(tc.ct, strings.NewReader(tc.body), MaxBodyBytes, &v)
			assert.Equal(t, tc.want, surge.ErrorCode(err), "decodeBody(%q) = %v", tc.name, err)
			if tc.want != "" {
				var e *surge.Error
				require.True(t, errors.As(err, &e), "application error")
				assert.NotContains(t, e.Message, "\xc3", "message does not echo invalid bytes")
			}
		})
	}
}

// FuzzDecodeBody: whatever the bytes, decoding never panics and fails only
// with a client error (400/413/415), which the server answers as such.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"code":"CS101","title":"Intro","capacity":30,"opensAt":"2026-03-02T09:00:00Z"}`,
		`{"title":"x"}`, `{"capacity":-1}`, `{"capacity":1e999}`, `{"capacity":"1"}`,
		`[{"studentNo":"1","name":"n","password":"p"}]`, `{"code":null}`, `{} []`, `"`, `{"a":`,
		"{\"code\":\"\xff\"}", `{"code":"\ud800"}`, strings.Repeat("[", 10000), `{"code":"A","code":"B"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, v := range []any{&createCourseIn{}, &updateCourseIn{}, &[]studentIn{}, &loginIn{}} {
			err := decodeBody("application/json", strings.NewReader(body), 4096, v)
			if err == nil {
				continue
			}
			switch code := surge.ErrorCode(err); code {
			case surge.CodeInvalid, surge.CodeTooLarge:
			default:
				t.Fatalf("decodeBody(%q) = %v: want a 400/413 application error", body, err)
			}
			if status := statusOf(surge.ErrorCode(err)); status >= 500 {
				t.Fatalf("decodeBody(%q) maps to %d", body, status)
			}
		}
	})
}

func TestRecovererAnswersJSON500WithoutStack(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{d: Deps{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}}
	h := s.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/courses", nil))
	assert.Equal(t, http.StatusInternalServerError, rec.Code, "status")
	assert.JSONEq(t, `{"error":{"code":"internal","message":"internal error"}}`, rec.Body.String(), "body")
	assert.Contains(t, logs.String(), "goroutine", "the stack goes to the log")
}

type (
	nopStore    struct{ Store }
	catalogue   = Courses // an alias: an embedded field named Courses would hide the method
	nopCourses  struct{ catalogue }
	nopRoom     struct{ Room }
	nopSessions struct{ Sessions }
)

func TestLoadSheddingSparesHealthChecks(t *testing.T) {
	s, err := NewServer(Deps{Store: nopStore{}, Courses: nopCourses{}, Room: nopRoom{}, Sessions: nopSessions{},
		AdminToken: "x", BcryptCost: 4, MaxInflight: 2, OverloadWait: -1})
	require.NoError(t, err)
	// Two requests in flight fill the budget.
	takeSlot(t, s)
	takeSlot(t, s)
	for _, path := range []string{"/api/courses", "/api/login", "/nope"} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "%s over the in-flight limit", path)
		assert.Equal(t, "1", rec.Header().Get("Retry-After"), "%s Retry-After", path)
		assert.Contains(t, rec.Body.String(), `"overloaded"`, "%s code", path)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code, "healthz is never shed")
	s.inflight.leave()
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("POST", "/api/logout", io.NopCloser(strings.NewReader(""))))
	assert.Equal(t, http.StatusNoContent, rec.Code, "admitted again once a slot frees")
}

func TestOverloadWaitsBriefly(t *testing.T) {
	newServer := func(wait time.Duration) *Server {
		s, err := NewServer(Deps{Store: nopStore{}, Courses: nopCourses{}, Room: nopRoom{}, Sessions: nopSessions{},
			AdminToken: "x", BcryptCost: 4, MaxInflight: 1, OverloadWait: wait})
		require.NoError(t, err)
		takeSlot(t, s) // the one slot is taken
		return s
	}
	logout := func(s *Server) int {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("POST", "/api/logout", io.NopCloser(strings.NewReader(""))))
		return rec.Code
	}

	t.Run("refused when no slot frees within the wait", func(t *testing.T) {
		s := newServer(50 * time.Millisecond)
		start := time.Now()
		assert.Equal(t, http.StatusServiceUnavailable, logout(s))
		assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "it waited")
	})
	t.Run("served when a slot frees within the wait", func(t *testing.T) {
		s := newServer(5 * time.Second)
		const n = 3
		served := make(chan int, n)
		for range n {
			go func() { served <- logout(s) }()
		}
		require.Eventually(t, func() bool { return s.inflight.queued() == n }, time.Second, time.Millisecond)
		s.inflight.leave() // one slot frees: the waiting requests take it one after the other
		for range n {
			assert.Equal(t, http.StatusNoContent, <-served)
		}
	})
	t.Run("at most 4×MaxInflight wait; the rest are refused at once", func(t *testing.T) {
		s := newServer(5 * time.Second)
		for i := range 4 {
			go logout(s)
			require.Eventually(t, func() bool { return s.inflight.queued() == i+1 }, time.Second, time.Millisecond)
		}
		start := time.Now()
		assert.Equal(t, http.StatusServiceUnavailable, logout(s))
		assert.Less(t, time.Since(start), time.Second, "refused without waiting")
		s.inflight.leave() // the waiting four are served one after the other
		require.Eventually(t, func() bool { return s.inflight.queued() == 0 && freeSlots(s.inflight) == 1 }, 5*time.Second, time.Millisecond)
	})
}
