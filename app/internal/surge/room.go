package surge

// State is a student's state in one course's waiting room, as the API shows
// it. docs/app.md draws the transitions between them.
type State string

// States of a student in a course.
const (
	StateNone     State = "none"     // never joined, left, or cancelled
	StateQueued   State = "queued"   // holds a ticket, waiting for a decision
	StateEnrolled State = "enrolled" // holds a seat
	StateFull     State = "full"     // no seat was left at their turn; on the waiting list
)

// Status is a student's state in one course. Ticket is 0 when unknown;
// Position is set only while queued (students ahead + 1).
type Status struct {
	State    State
	Ticket   int64
	Position int64
}
