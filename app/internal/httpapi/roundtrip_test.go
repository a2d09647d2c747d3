package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/testenv"
)

// TestOneRedisRoundTripPerRequest: once an instance has verified a
// student's session, a join, a status read and a leave each cost one Redis
// round trip (the waiting-room script), not two.
func TestOneRedisRoundTripPerRequest(t *testing.T) {
	rt := &testenv.RoundTrips{}
	f := newFixture(t, testenv.AppOptions{NoAdmitter: true, RedisHook: rt})
	course := f.course("RT101", 10, past)
	f.students("rt1")
	c := f.login("rt1")
	path := fmt.Sprintf("/api/courses/%d/queue", course)
	// Warm up: the session is verified once, the course's data and the
	// scripts are loaded once per instance.
	require.Eventually(t, func() bool {
		before := rt.N()
		r := c.Must("GET", path, nil)
		return r.Status == http.StatusOK && rt.N()-before == 1
	}, 5*time.Second, 5*time.Millisecond, "the session is remembered")
	for range 2 {
		c.Must("POST", path, nil)
		c.Must("GET", path, nil)
		c.Must("DELETE", path, nil)
	}
	tests := []struct {
		method string
		status int
	}{
		{"POST", http.StatusAccepted},
		{"GET", http.StatusOK},
		{"DELETE", http.StatusNoContent},
	}
	for _, tt := range tests {
		before := rt.N()
		r := c.Must(tt.method, path, nil)
		assert.Equal(t, tt.status, r.Status, "%s %s: %s", tt.method, path, r.Body)
		assert.Equal(t, int64(1), rt.N()-before, "%s %s: Redis round trips", tt.method, path)
	}
}
