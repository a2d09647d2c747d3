package localenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// ClusterOptions configures StartRedisCluster. The zero value is three
// masters without replicas, the smallest cluster redis-cli will create.
type ClusterOptions struct {
	// Masters is the number of primaries the 16384 slots are split over; 0 = 3.
	Masters int
	// ReplicasPerMaster adds that many replicas to every primary.
	ReplicasPerMaster int
	// NodeTimeout is cluster-node-timeout: how long a silent primary may be
	// unreachable before its replica is promoted; 0 = 2s, short for tests.
	NodeTimeout time.Duration
}

// RedisCluster is a throwaway Redis Cluster on 127.0.0.1: every node a
// StartRedis server with cluster-enabled, joined by `redis-cli --cluster
// create`, the way the Redis docs build one by hand
// (https://redis.io/docs/latest/operate/oss_and_stack/management/scaling/).
type RedisCluster struct {
	Nodes []*Redis
}

// StartRedisCluster starts the nodes, creates the cluster and returns once
// every node reports cluster_state:ok, so the first command from a client
// already finds every slot served.
func StartRedisCluster(ctx context.Context, o ClusterOptions) (*RedisCluster, error) {
	if o.Masters == 0 {
		o.Masters = 3
	}
	if o.Masters < 3 {
		return nil, fmt.Errorf("redis cluster needs at least 3 masters, got %d", o.Masters)
	}
	if o.ReplicasPerMaster < 0 {
		return nil, fmt.Errorf("replicas per master must be >= 0, got %d", o.ReplicasPerMaster)
	}
	if o.NodeTimeout == 0 {
		o.NodeTimeout = 2 * time.Second
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, fmt.Errorf("redis-cli not found (Debian package redis-tools, pulled in by redis-server): %w", ErrNotInstalled)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*DefaultStartTimeout)
		defer cancel()
	}
	c := &RedisCluster{}
	args := []string{
		"cluster-enabled", "yes",
		"cluster-config-file", "nodes.conf",
		"cluster-node-timeout", strconv.FormatInt(o.NodeTimeout.Milliseconds(), 10),
		// A replica may be promoted however long it was cut off: the tests
		// kill primaries on purpose and want the failover, not a dead slot range.
		"cluster-replica-validity-factor", "0",
	}
	n := o.Masters * (1 + o.ReplicasPerMaster)
	addrs := make([]string, 0, n)
	for i := 0; i < n; i++ {
		r, err := StartRedis(ctx, RedisOptions{Args: args})
		if err != nil {
			return nil, errors.Join(fmt.Errorf("starting cluster node %d: %w", i, err), c.Close())
		}
		c.Nodes = append(c.Nodes, r)
		addrs = append(addrs, r.Addr())
	}
	create := append([]string{"--cluster", "create"}, addrs...)
	create = append(create, "--cluster-replicas", strconv.Itoa(o.ReplicasPerMaster), "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, create...).CombinedOutput()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("redis-cli --cluster create: %w: %s", err, lastLines(string(out), 8)), c.Close())
	}
	if err := c.WaitHealthy(ctx); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

// Addrs lists every node's 127.0.0.1:PORT; a cluster client needs only one
// to discover the rest.
func (c *RedisCluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr()
	}
	return out
}

// WaitHealthy waits until every running node reports cluster_state:ok.
func (c *RedisCluster) WaitHealthy(ctx context.Context) error {
	for {
		var bad error
		for _, n := range c.Nodes {
			if n.Pid() == 0 {
				continue
			}
			info, err := respBulk(ctx, n.Addr(), "CLUSTER", "INFO")
			if err == nil && !strings.Contains(info, "cluster_state:ok") {
				err = fmt.Errorf("node %s: %s", n.Addr(), firstLine(info))
			}
			if err != nil {
				bad = err
				break
			}
		}
		if bad == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis cluster not healthy: %w (last: %w)", ctx.Err(), bad)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close stops every node and removes their directories.
func (c *RedisCluster) Close() error {
	var err error
	for _, n := range c.Nodes {
		err = errors.Join(err, n.Close())
	}
	return err
}

// respBulk sends one command and returns a simple, integer or bulk-string
// reply as text; enough for CLUSTER INFO without a client library.
func respBulk(ctx context.Context, addr string, args ...string) (string, error) {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second)) // a failed deadline shows as a failed read
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return "", err
	}
	rd := bufio.NewReader(conn)
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		size, err := strconv.Atoi(line[1:])
		if err != nil || size < 0 {
			return "", fmt.Errorf("unexpected bulk header %q", line)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return "", err
		}
		return string(buf[:size]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
