package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGiveBackIsFenced: a give-back removes only the seat its batch granted
// (same ticket) and only while no newer batch has granted for the course.
func TestGiveBackIsFenced(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	course, cands := seed(t, s, 5, 3)
	_, err := s.Grant(ctx, course, 10, cands[:2])
	require.NoError(t, err)

	ok, err := s.GiveBack(ctx, course, cands[0].StudentID, cands[0].Ticket+1, 10)
	require.NoError(t, err)
	assert.False(t, ok, "another ticket: not the seat this batch granted")
	ok, err = s.GiveBack(ctx, course, cands[0].StudentID, cands[0].Ticket, 9)
	require.NoError(t, err)
	assert.False(t, ok, "not the fence the seat was granted under")

	// A newer batch grants (finding the student enrolled): the old batch's
	// give-back is refused.
	_, err = s.Grant(ctx, course, 11, cands[1:])
	require.NoError(t, err)
	ok, err = s.GiveBack(ctx, course, cands[1].StudentID, cands[1].Ticket, 10)
	require.NoError(t, err)
	assert.False(t, ok, "a newer batch granted since: the seat stays")
	ok, err = s.GiveBack(ctx, course, cands[2].StudentID, cands[2].Ticket, 11)
	require.NoError(t, err)
	assert.True(t, ok, "the current batch gives back its own seat")
	es, err := s.Enrollments(ctx, cands[2].StudentID)
	require.NoError(t, err)
	assert.Empty(t, es)
	c, err := s.Course(ctx, course)
	require.NoError(t, err)
	assert.Equal(t, 2, c.Enrolled, "the counter follows the delete")
}
