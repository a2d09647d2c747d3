package surge

import "errors"

// A failure that is not an application error (*Error) is either a bug, a
// defect in our SQL or data that retrying cannot fix (HTTP 500), or an
// outage of a dependency: down, restarting, timed out (HTTP 503 with
// Retry-After). The adapters' errors say which.

// IsBug reports whether err is a database error that points at a defect in
// our SQL or data rather than at the database being unavailable. Database
// errors carry their SQLSTATE (the SQL standard's error code, SQLState() as
// in pgconn.PgError); the classes of a defect are feature not supported (0A),
// data exception (22), integrity constraint violation (23) and syntax error
// or access rule violation (42).
func IsBug(err error) bool {
	var se interface{ SQLState() string }
	if !errors.As(err, &se) {
		return false
	}
	code := se.SQLState()
	if len(code) < 2 {
		return false
	}
	switch code[:2] {
	case "0A", "22", "23", "42":
		return true
	}
	return false
}

// ErrNotApplied marks a failed write that certainly did not take effect: no
// connection could be made, nothing was sent, or the server refused it.
// Without it the outcome of a failed write is unknown.
var ErrNotApplied = errors.New("not applied")

// NotApplied marks err with ErrNotApplied; its message stays err's.
func NotApplied(err error) error {
	if err == nil {
		return nil
	}
	return notApplied{err}
}

type notApplied struct{ err error }

func (e notApplied) Error() string        { return e.err.Error() }
func (e notApplied) Unwrap() error        { return e.err }
func (e notApplied) Is(target error) bool { return target == ErrNotApplied }

// ErrNoSession means a session id names no live session (HTTP 401, unlike
// a session store that cannot be reached).
var ErrNoSession = errors.New("no such session")
