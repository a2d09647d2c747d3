package localenv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRedisClusterOptionsRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    ClusterOptions
		want string
	}{
		{"too few masters", ClusterOptions{Masters: 2}, "at least 3 masters"},
		{"negative replicas", ClusterOptions{ReplicasPerMaster: -1}, "replicas per master"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := StartRedisCluster(context.Background(), tc.o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// The cluster splits the slots over its masters, and a killed master's
// replica takes over its slots: what the waiting room's cluster tests rely on.
func TestRedisClusterServesAllSlotsAndFailsOver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := StartRedisCluster(ctx, ClusterOptions{ReplicasPerMaster: 1})
	SkipIfNotInstalled(t, err)
	require.NoError(t, err)
	defer c.Close()
	require.Len(t, c.Addrs(), 6)

	info, err := respBulk(ctx, c.Addrs()[0], "CLUSTER", "INFO")
	require.NoError(t, err)
	assert.Contains(t, info, "cluster_slots_assigned:16384")
	assert.Contains(t, info, "cluster_size:3")

	// Keys sharing a hash tag share a slot, so one script may touch them all.
	a, err := respBulk(ctx, c.Addrs()[0], "CLUSTER", "KEYSLOT", "wr:{c42}:queue")
	require.NoError(t, err)
	b, err := respBulk(ctx, c.Addrs()[0], "CLUSTER", "KEYSLOT", "wr:{c42}:seats")
	require.NoError(t, err)
	assert.Equal(t, a, b)

	// Kill the master serving slot 0; its replica must take over.
	nodes, err := respBulk(ctx, c.Addrs()[0], "CLUSTER", "NODES")
	require.NoError(t, err)
	victim := slotZeroMaster(ctx, c.Addrs()[0])
	require.NotEmpty(t, victim, "a master serves slot 0:\n%s", nodes)
	for _, n := range c.Nodes {
		if n.Addr() == victim {
			require.NoError(t, n.Stop(ctx))
		}
	}
	var live string
	for _, n := range c.Nodes {
		if n.Pid() != 0 {
			live = n.Addr()
		}
	}
	require.Eventually(t, func() bool {
		owner := slotZeroMaster(ctx, live)
		return owner != "" && owner != victim
	}, 30*time.Second, 100*time.Millisecond, "the replica is promoted and serves slot 0")
	require.NoError(t, c.WaitHealthy(ctx), "every slot is served again")
}

// slotZeroMaster is the address of the healthy master serving slot 0, as addr sees it.
func slotZeroMaster(ctx context.Context, addr string) string {
	nodes, err := respBulk(ctx, addr, "CLUSTER", "NODES")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) >= 9 && strings.Contains(f[2], "master") && !strings.Contains(f[2], "fail") && strings.HasPrefix(f[8], "0-") {
			a, _, _ := strings.Cut(f[1], "@")
			return a
		}
	}
	return ""
}
