package cli_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/surge-dev/surge/app/internal/testenv"
)

// TestServeOnRedisCluster: the same configuration with SURGE_REDIS_MODE=cluster
// and one node's address as the URL (what ElastiCache's configuration
// endpoint is) serves from a three-master cluster: ready, courses created
// (cache entries and ticket counters written), listed, their progress read,
// two students signed in who join every course (waiting for a final answer)
// and are admitted, and a clean exit.
func TestServeOnRedisCluster(t *testing.T) {
	vars := baseEnv(t, newDatabase(t))
	vars["SURGE_REDIS_MODE"] = "cluster"
	vars["SURGE_REDIS_URL"] = "redis://" + env.RedisCluster(t).Addrs()[0] + "/0"
	srv := startServe(t, vars)
	addr := srv.addr
	c := env.NewClient(t, "http://"+addr)
	require.Eventually(t, func() bool { return c.Must("GET", "/readyz", nil).Status == http.StatusOK }, 10*time.Second, 20*time.Millisecond, "ready on the cluster")

	var ids []int64
	for n := range 6 { // courses land on different shards
		r := c.Admin("POST", "/api/admin/courses", map[string]any{"code": fmt.Sprintf("K%d", n), "title": "t", "capacity": 5, "opensAt": "2020-01-01T00:00:00Z"})
		require.Equal(t, http.StatusCreated, r.Status, "create course: %s", r.Body)
		ids = append(ids, int64(r.JSON()["id"].(float64)))
	}
	r := c.Must("GET", "/api/courses", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	for _, id := range ids {
		r := c.Must("GET", fmt.Sprintf("/api/courses/%d/progress", id), nil)
		require.Equal(t, http.StatusOK, r.Status, "progress of %d: %s", id, r.Body)
		assert.EqualValues(t, 5, r.JSON()["seatsLeft"], "course %d", id)
	}
	r = c.Admin("POST", "/api/admin/students", `[{"studentNo":"k1","name":"n","password":"p"},{"studentNo":"k2","name":"n","password":"p"}]`)
	require.Equal(t, http.StatusCreated, r.Status, "import: %s", r.Body)
	var students []*testenv.Client
	for _, no := range []string{"k1", "k2"} {
		s := env.NewClient(t, "http://"+addr)
		r := s.Must("POST", "/api/login", map[string]string{"studentNo": no, "password": "p"})
		require.Equal(t, http.StatusOK, r.Status, "login %s: %s", no, r.Body)
		students = append(students, s)
	}
	for _, id := range ids {
		for _, s := range students {
			path := fmt.Sprintf("/api/courses/%d/queue", id)
			r := s.Must("POST", path+"?wait=3", nil)
			require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, r.Status, "join %d: %s", id, r.Body)
			require.Eventually(t, func() bool {
				return s.Must("GET", path, nil).JSON()["state"] == "enrolled"
			}, 10*time.Second, 20*time.Millisecond, "admitted to course %d", id)
		}
	}
	srv.sigterm()
	srv.wait(t, 60*time.Second, "clean exit")
}
