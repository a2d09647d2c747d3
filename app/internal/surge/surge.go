// Package surge is the domain of the course registration service: courses
// and enrollments, a student's state in a waiting room, the candidates and
// results of a grant, the errors that cross from the adapters (PostgreSQL,
// Redis) to the HTTP API and the admitter, and the application errors the
// HTTP boundary maps to statuses. It depends on no adapter; the API and the
// admitter depend on it and on small interfaces of their own, which the
// adapters implement.
package surge

import (
	"errors"
	"fmt"
	"time"
)

// Course is a course as listed by GET /api/courses.
type Course struct {
	ID       int64
	Code     string
	Title    string
	Capacity int
	Enrolled int
	OpensAt  time.Time
}

// SeatsLeft is the number of seats not yet granted (never negative).
func (c Course) SeatsLeft() int { return max(c.Capacity-c.Enrolled, 0) }

// Open reports whether joining is allowed at now.
func (c Course) Open(now time.Time) bool { return !now.Before(c.OpensAt) }

// CourseUpdate is a partial change of a course: nil fields stay unchanged.
type CourseUpdate struct {
	Title    *string
	Capacity *int
	OpensAt  *time.Time
}

// NewStudent is one entry of a bulk import; PasswordHash is already hashed.
type NewStudent struct {
	StudentNo    string
	Name         string
	PasswordHash string
}

// Enrollment is one seat held by a student.
type Enrollment struct {
	CourseID   int64
	Code       string
	EnrolledAt time.Time
}

// Capacity bounds of a course.
const (
	MinCapacity = 1
	MaxCapacity = 100000
)

// Code classifies an application error; the HTTP layer maps it to a status.
type Code string

// Error codes. They appear verbatim in the JSON error body.
const (
	CodeInvalid          Code = "invalid_request"
	CodeUnauthorized     Code = "unauthorized"
	CodeNotFound         Code = "not_found"
	CodeConflict         Code = "conflict"
	CodeNotOpen          Code = "not_open"
	CodeTooLarge         Code = "payload_too_large"
	CodeUnsupportedMedia Code = "unsupported_media_type"
	CodeUnavailable      Code = "unavailable"
	CodeOverloaded       Code = "overloaded"
	CodeRateLimited      Code = "rate_limited"
	CodeDraining         Code = "draining"
	CodeInternal         Code = "internal"
)

// Error is an application error whose message is safe to show to clients.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf builds an application error.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first application error in err's chain,
// or "" when err carries none.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Common errors.
var (
	ErrCourseNotFound = &Error{Code: CodeNotFound, Message: "course not found"}
	ErrNotEnrolled    = &Error{Code: CodeNotFound, Message: "not enrolled in this course"}
)
