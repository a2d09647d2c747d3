package redisconn

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mode
		err  bool
	}{
		{"", Standalone, false},
		{"standalone", Standalone, false},
		{"cluster", Cluster, false},
		{"Cluster", "", true},
		{"sentinel", "", true},
	} {
		got, err := ParseMode(tc.in)
		if tc.err {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

// TestNew: one URL (the secret's shape: rediss with an auth token) gives a
// standalone client or a cluster client with the same address, credentials,
// TLS server name, timeouts and retries.
func TestNew(t *testing.T) {
	const url = "rediss://:tok%2Fen@cache.example:6380/0"
	s, err := New(Options{URL: url})
	require.NoError(t, err)
	defer s.Close()
	sc, ok := s.(*redis.Client)
	require.True(t, ok, "standalone is a *redis.Client, got %T", s)
	so := sc.Options()
	assert.Equal(t, "cache.example:6380", so.Addr)
	assert.Equal(t, "tok/en", so.Password)
	require.NotNil(t, so.TLSConfig)
	assert.Equal(t, "cache.example", so.TLSConfig.ServerName)
	assert.Equal(t, time.Second, so.ReadTimeout)
	assert.Equal(t, 1, so.MaxRetries)
	assert.True(t, so.ContextTimeoutEnabled)

	c, err := New(Options{URL: url, Mode: Cluster, Timeout: 2 * time.Second, PoolSize: 7})
	require.NoError(t, err)
	defer c.Close()
	cc, ok := c.(*redis.ClusterClient)
	require.True(t, ok, "cluster is a *redis.ClusterClient, got %T", c)
	co := cc.Options()
	assert.Equal(t, []string{"cache.example:6380"}, co.Addrs, "the configuration endpoint")
	assert.Equal(t, "tok/en", co.Password)
	require.NotNil(t, co.TLSConfig)
	assert.Equal(t, "cache.example", co.TLSConfig.ServerName)
	assert.Equal(t, 2*time.Second, co.ReadTimeout)
	assert.Equal(t, 7, co.PoolSize)
	assert.Equal(t, 1, co.MaxRetries)
}

func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"unknown mode", Options{URL: "redis://x:6379/0", Mode: "ring"}, "redis mode"},
		{"bad url, password not echoed", Options{URL: "http://:hunter2@x"}, "invalid URL"},
		{"cluster with a database", Options{URL: "redis://x:6379/3", Mode: Cluster}, "database 0 only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}
