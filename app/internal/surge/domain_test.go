package surge_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/surge-dev/surge/app/internal/surge"
)

func TestGrantResultOutcomes(t *testing.T) {
	r := surge.GrantResult{Granted: []int64{1, 2}, AlreadyEnrolled: []int64{3}, Full: []int64{4, 5}, Unknown: []int64{6}, SeatsLeft: 0}
	assert.Equal(t, map[int64]surge.Outcome{
		1: surge.OutcomeGranted, 2: surge.OutcomeGranted,
		3: surge.OutcomeAlreadyEnrolled,
		4: surge.OutcomeFull, 5: surge.OutcomeFull,
		6: surge.OutcomeUnknown,
	}, r.Outcomes())
	assert.Empty(t, surge.GrantResult{}.Outcomes())
	_, decided := surge.GrantResult{Granted: []int64{1}}.Outcomes()[7]
	assert.False(t, decided, "a candidate the grant did not mention has no outcome (stays in flight)")
}

func TestStaleFenceError(t *testing.T) {
	err := fmt.Errorf("granting: %w", &surge.StaleFenceError{Fence: 42})
	assert.ErrorIs(t, err, surge.ErrStaleFence)
	var se *surge.StaleFenceError
	assert.ErrorAs(t, err, &se)
	assert.Equal(t, int64(42), se.Fence)
	assert.Contains(t, err.Error(), "course fence 42")
}

// sqlError stands for a driver's error that carries its SQLSTATE.
type sqlError string

func (e sqlError) Error() string    { return "sql error " + string(e) }
func (e sqlError) SQLState() string { return string(e) }

func TestIsBugByStateClass(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{sqlError("42P01"), true},  // undefined table
		{sqlError("42501"), true},  // insufficient privilege
		{sqlError("23505"), true},  // unique violation nobody handled
		{sqlError("22P02"), true},  // invalid text representation
		{sqlError("0A000"), true},  // feature not supported
		{sqlError("57P01"), false}, // admin shutdown: a restart
		{sqlError("08006"), false}, // connection failure
		{sqlError("40001"), false}, // serialization failure: retry
		{sqlError(""), false},
		{fmt.Errorf("listing: %w", sqlError("42703")), true},
		{context.DeadlineExceeded, false},
		{surge.ErrCourseNotFound, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.err), func(t *testing.T) {
			assert.Equal(t, tt.want, surge.IsBug(tt.err))
		})
	}
}

func TestNotApplied(t *testing.T) {
	base := errors.New("cancelling enrollment: dial tcp: connection refused")
	err := surge.NotApplied(base)
	assert.ErrorIs(t, err, surge.ErrNotApplied)
	assert.ErrorIs(t, err, base, "the cause stays reachable")
	assert.Equal(t, base.Error(), err.Error(), "the message is the cause's")
	assert.ErrorIs(t, fmt.Errorf("outer: %w", err), surge.ErrNotApplied)
	assert.NotErrorIs(t, base, surge.ErrNotApplied)
	assert.NoError(t, surge.NotApplied(nil))
}
