package surge

import (
	"errors"
	"fmt"
)

// Candidate is a student offered a seat, with their ticket: batches are
// granted in ascending ticket order.
type Candidate struct {
	StudentID int64
	Ticket    int64
}

// Batch is what an admitter took from a course's waiting room under a
// lease. Token is the fencing token: strictly increasing per course, also
// across a loss of the waiting room's data; the database refuses a grant
// whose token is not above the last one it accepted.
type Batch struct {
	Course     int64
	Token      int64
	Candidates []Candidate // ascending tickets
	// Moved counts the queued students moved straight to the waiting list
	// (no lease, no candidates): the course is full and no seat was freed.
	Moved int
	// MovedThrough is the highest ticket moved (0 when none): the moved
	// students are the lowest queued, so every ticket up to it is decided.
	MovedThrough int64
}

// ErrLeaseBusy: another admitter holds the course's lease.
var ErrLeaseBusy = errors.New("course lease held by another admitter")

// Outcome is what a grant decided for one candidate.
type Outcome uint8

// Outcomes of a grant.
const (
	OutcomeGranted         Outcome = iota + 1 // got a seat now
	OutcomeAlreadyEnrolled                    // held a seat before the batch
	OutcomeFull                               // no seat left: on the waiting list
	OutcomeUnknown                            // no such student (or course): dropped
)

// GrantResult says what happened to each candidate of a batch.
type GrantResult struct {
	Granted         []int64 // got a seat now
	AlreadyEnrolled []int64 // held a seat before this batch
	Full            []int64 // no seat left for them
	Unknown         []int64 // no such student: dropped
	SeatsLeft       int     // after the batch
}

// Outcomes is the result per student.
func (r GrantResult) Outcomes() map[int64]Outcome {
	out := make(map[int64]Outcome, len(r.Granted)+len(r.AlreadyEnrolled)+len(r.Full)+len(r.Unknown))
	for _, group := range []struct {
		ids []int64
		o   Outcome
	}{{r.Granted, OutcomeGranted}, {r.AlreadyEnrolled, OutcomeAlreadyEnrolled}, {r.Full, OutcomeFull}, {r.Unknown, OutcomeUnknown}} {
		for _, id := range group.ids {
			out[id] = group.o
		}
	}
	return out
}

// ErrStaleFence means a newer admitter already granted seats for the course:
// this admitter's lease is gone and it must not write.
var ErrStaleFence = errors.New("admitter fencing token is stale")

// StaleFenceError is ErrStaleFence with the course's current fence, which
// tells a newer admitter apart from a ticket counter that went back.
type StaleFenceError struct{ Fence int64 }

func (e *StaleFenceError) Error() string {
	return fmt.Sprintf("%v (course fence %d)", ErrStaleFence, e.Fence)
}

// Is makes errors.Is(err, ErrStaleFence) hold.
func (e *StaleFenceError) Is(target error) bool { return target == ErrStaleFence }
