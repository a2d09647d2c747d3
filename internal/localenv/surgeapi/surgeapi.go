// Package surgeapi is a small client for the app's public HTTP contract
// (docs/app.md): admin seeding, login, queue, enrollments. It knows nothing of the
// app's internals, so it works against a local process or a deployed stack.
package surgeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxStudentsPerImport is the contract's limit for one bulk import call.
const MaxStudentsPerImport = 10000

// Client talks to one base URL.
type Client struct {
	// Base is the scheme://host:port, without a trailing slash.
	Base string
	// HTTP is the client used; nil = http.DefaultClient.
	HTTP *http.Client
	// AdminToken authorizes /api/admin/*.
	AdminToken string
}

// Error is a non-2xx answer: the HTTP status and the contract's error body.
type Error struct {
	Status     int
	Code       string
	Message    string
	RetryAfter string
}

func (e *Error) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// StatusOf returns the HTTP status of an *Error, 0 otherwise.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Course is one entry of GET /api/courses.
type Course struct {
	ID        int64     `json:"id"`
	Code      string    `json:"code"`
	Title     string    `json:"title"`
	Capacity  int       `json:"capacity"`
	Enrolled  int       `json:"enrolled"`
	SeatsLeft int       `json:"seatsLeft"`
	OpensAt   time.Time `json:"opensAt"`
	Open      bool      `json:"open"`
}

// NewCourse is the body of POST /api/admin/courses.
type NewCourse struct {
	Code     string    `json:"code"`
	Title    string    `json:"title"`
	Capacity int       `json:"capacity"`
	OpensAt  time.Time `json:"opensAt"`
}

// Student is one item of POST /api/admin/students.
type Student struct {
	StudentNo string `json:"studentNo"`
	Name      string `json:"name"`
	Password  string `json:"password"`
}

// QueueState is the answer of the queue endpoints.
type QueueState struct {
	State    string `json:"state"` // queued, enrolled, full, none
	Ticket   int64  `json:"ticket,omitempty"`
	Position int64  `json:"position,omitempty"`
	// PollAfterMs is the server's poll hint on a queued answer (nil: none).
	PollAfterMs *int64 `json:"pollAfterMs,omitempty"`
}

// Progress is the answer of GET /api/courses/{id}/progress.
type Progress struct {
	CourseID       int64     `json:"courseId"`
	DecidedThrough int64     `json:"decidedThrough"`
	SeatsLeft      int       `json:"seatsLeft"`
	AsOf           time.Time `json:"asOf"`
}

// Final reports whether the state is terminal for a rush (enrolled or full).
func (q QueueState) Final() bool { return q.State == "enrolled" || q.State == "full" }

// Enrollment is one item of GET /api/enrollments.
type Enrollment struct {
	CourseID   int64     `json:"courseId"`
	Code       string    `json:"code"`
	EnrolledAt time.Time `json:"enrolledAt"`
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// Do sends one request with an optional JSON body and cookie, decodes a 2xx
// JSON answer into out (if non-nil) and returns the status and the response
// headers. A non-2xx answer is an *Error.
func (c *Client) Do(ctx context.Context, method, path, cookie string, admin bool, body, out any) (int, http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	if admin {
		req.Header.Set("Authorization", "Bearer "+c.AdminToken)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, resp.Header, err
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
		var eb struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &eb) == nil {
			e.Code, e.Message = eb.Error.Code, eb.Error.Message
		} else {
			e.Message = strings.TrimSpace(string(data))
		}
		return resp.StatusCode, resp.Header, e
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, resp.Header, fmt.Errorf("decoding %s %s answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, resp.Header, nil
}

// CreateCourse creates a course (admin). A duplicate code is an *Error 409.
func (c *Client) CreateCourse(ctx context.Context, nc NewCourse) (Course, error) {
	var out Course
	_, _, err := c.Do(ctx, http.MethodPost, "/api/admin/courses", "", true, nc, &out)
	return out, err
}

// UpdateCourse changes a course partially (admin): nil fields are unchanged.
func (c *Client) UpdateCourse(ctx context.Context, id int64, title *string, capacity *int, opensAt *time.Time) (Course, error) {
	body := map[string]any{}
	if title != nil {
		body["title"] = *title
	}
	if capacity != nil {
		body["capacity"] = *capacity
	}
	if opensAt != nil {
		body["opensAt"] = opensAt.UTC().Format(time.RFC3339Nano)
	}
	var out Course
	_, _, err := c.Do(ctx, http.MethodPut, "/api/admin/courses/"+strconv.FormatInt(id, 10), "", true, body, &out)
	return out, err
}

// ImportStudents imports students in calls of at most MaxStudentsPerImport
// and returns how many were new.
func (c *Client) ImportStudents(ctx context.Context, students []Student) (int, error) {
	created := 0
	for start := 0; start < len(students); start += MaxStudentsPerImport {
		end := min(start+MaxStudentsPerImport, len(students))
		var out struct {
			Created int `json:"created"`
		}
		if _, _, err := c.Do(ctx, http.MethodPost, "/api/admin/students", "", true, students[start:end], &out); err != nil {
			return created, fmt.Errorf("importing students %d..%d: %w", start, end-1, err)
		}
		created += out.Created
	}
	return created, nil
}

// Courses lists the courses.
func (c *Client) Courses(ctx context.Context) ([]Course, error) {
	var out struct {
		Courses []Course `json:"courses"`
	}
	_, _, err := c.Do(ctx, http.MethodGet, "/api/courses", "", false, nil, &out)
	return out.Courses, err
}

// Session is a signed-in student: the cookies to send back.
type Session struct {
	Client    *Client
	StudentNo string
	Cookie    string
}

// Login signs a student in and keeps the session cookie(s).
func (c *Client) Login(ctx context.Context, studentNo, password string) (*Session, error) {
	_, h, err := c.Do(ctx, http.MethodPost, "/api/login", "", false,
		map[string]string{"studentNo": studentNo, "password": password}, nil)
	if err != nil {
		return nil, err
	}
	resp := http.Response{Header: h}
	var parts []string
	for _, ck := range resp.Cookies() {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("login of %s answered 200 without a session cookie", studentNo)
	}
	return &Session{Client: c, StudentNo: studentNo, Cookie: strings.Join(parts, "; ")}, nil
}

func coursePath(id int64, suffix string) string {
	return "/api/courses/" + strconv.FormatInt(id, 10) + suffix
}

// Join joins a course's waiting room (POST .../queue).
func (s *Session) Join(ctx context.Context, courseID int64) (QueueState, error) {
	var q QueueState
	_, _, err := s.Client.Do(ctx, http.MethodPost, coursePath(courseID, "/queue"), s.Cookie, false, nil, &q)
	return q, err
}

// State polls the student's state in a course (GET .../queue).
func (s *Session) State(ctx context.Context, courseID int64) (QueueState, error) {
	var q QueueState
	_, _, err := s.Client.Do(ctx, http.MethodGet, coursePath(courseID, "/queue"), s.Cookie, false, nil, &q)
	return q, err
}

// Leave leaves the queue or waiting list (DELETE .../queue).
func (s *Session) Leave(ctx context.Context, courseID int64) error {
	_, _, err := s.Client.Do(ctx, http.MethodDelete, coursePath(courseID, "/queue"), s.Cookie, false, nil, nil)
	return err
}

// Cancel cancels an enrollment (DELETE /api/enrollments/{id}).
func (s *Session) Cancel(ctx context.Context, courseID int64) error {
	_, _, err := s.Client.Do(ctx, http.MethodDelete, "/api/enrollments/"+strconv.FormatInt(courseID, 10), s.Cookie, false, nil, nil)
	return err
}

// Enrollments lists the student's enrollments.
func (s *Session) Enrollments(ctx context.Context) ([]Enrollment, error) {
	var out struct {
		Enrollments []Enrollment `json:"enrollments"`
	}
	_, _, err := s.Client.Do(ctx, http.MethodGet, "/api/enrollments", s.Cookie, false, nil, &out)
	return out.Enrollments, err
}

// Logout ends the session.
func (s *Session) Logout(ctx context.Context) error {
	_, _, err := s.Client.Do(ctx, http.MethodPost, "/api/logout", s.Cookie, false, nil, nil)
	return err
}
