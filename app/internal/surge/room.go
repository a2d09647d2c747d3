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

// Final reports whether a long poll can stop waiting: the state no longer
// changes by itself while the student waits in the queue.
func (s State) Final() bool { return s != StateQueued }

// Progress is what an admitter publishes about a course after each batch, so
// that the instances answer their waiting students without polling Redis.
type Progress struct {
	Course int64
	// Decided is how many students the batch decided (seat, waiting list or
	// gone): the rate at which the queue moves.
	Decided int
	// Through is the highest ticket the batch decided; 0 when unknown. A
	// student with a higher ticket was not in the batch and stays queued.
	Through int64
}
