package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/admitter"
	"github.com/surge-dev/surge/app/internal/testenv"
)

// TestCapacityRaiseBeyondOneBatchKeepsFIFO: two instances with small
// batches; the course is full with a waiting list several batches long and
// late joiners queued when the capacity is raised far beyond one batch. The
// seats go to the lowest tickets: no late joiner passes a lower full ticket.
func TestCapacityRaiseBeyondOneBatchKeepsFIFO(t *testing.T) {
	const seats, waiting, late, raised = 5, 50, 10, 40
	// The admitters are ticked by hand, alternating, so that the late
	// joiners are still queued when the capacity goes up.
	c := newCluster(t, 2, testenv.AppOptions{NoAdmitter: true, Admitter: admitter.Options{MaxBatch: 16, FullBatch: 16}})
	course := c.course("RAISE", seats)
	ss := c.students("w", seats+waiting+late)
	tick := func(n int) {
		for i := range n {
			c.apps[i%2].Admitter.Tick(context.Background())
		}
	}
	c.joinAll(t, course, ss[:seats+waiting])
	tick(4)
	c.waitProcessed(t, course, ss[:seats+waiting])
	c.joinAll(t, course, ss[seats+waiting:])
	r := env.NewClient(t, c.apps[1].HTTP.URL).Admin("PUT", fmt.Sprintf("/api/admin/courses/%d", course), map[string]any{"capacity": raised})
	require.Equal(t, http.StatusOK, r.Status, "raise capacity: %s", r.Body)
	tick(20)
	require.NoError(t, c.waitFIFO(course, raised, ss, 10*time.Second), "seats of the raise go to the lowest tickets")
}
