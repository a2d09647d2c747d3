// Package redisconn builds the app's Redis client from a URL and a mode: the
// only place a client is built, so that a standalone Redis and a Redis
// Cluster are reached with the same timeouts, retries and credentials.
package redisconn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Mode says how the URL's server is reached.
type Mode string

// The modes.
const (
	// Standalone: one primary (an ElastiCache replication group with
	// cluster mode disabled: the primary endpoint).
	Standalone Mode = "standalone"
	// Cluster: a Redis Cluster; the URL names any node, or ElastiCache's
	// configuration endpoint, and the client discovers the others
	// (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Endpoints.html).
	Cluster Mode = "cluster"
)

// Modes lists every mode.
var Modes = []Mode{Standalone, Cluster}

// ParseMode reads a mode; "" is Standalone.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return Standalone, nil
	case Standalone, Cluster:
		return m, nil
	}
	return "", fmt.Errorf("%q is not standalone or cluster", s)
}

// Options of a client. Zero durations pick the defaults.
type Options struct {
	URL  string // redis:// or rediss://, with user and password if any
	Mode Mode   // "" = Standalone
	// Credentials, when set, is asked for the user and password at every
	// new connection (a rotating secret); it wins over the URL's.
	Credentials func(ctx context.Context) (user, password string, err error)
	// Timeout bounds dialing, reading and writing: a Redis outage becomes
	// a fast error (a 503) instead of a hung request. Default 1s.
	Timeout time.Duration
	// PoolTimeout bounds the wait for a free connection. Default 1s.
	PoolTimeout time.Duration
	// PoolSize is the connections per node; 0 = go-redis's default (10 per CPU).
	PoolSize int
}

// New returns a client of the URL's server: a *redis.Client for a
// standalone Redis, a *redis.ClusterClient for a cluster (which sends each
// command to the node owning its key's slot and follows MOVED and ASK).
// Commands are retried once: the waiting room's scripts are written to be
// retried (waitroom/scripts.go).
func New(o Options) (redis.UniversalClient, error) {
	mode, err := ParseMode(string(o.Mode))
	if err != nil {
		return nil, fmt.Errorf("redis mode: %w", err)
	}
	u, err := redis.ParseURL(o.URL)
	if err != nil {
		// The URL may hold a password: never echo it.
		return nil, errors.New("parsing redis url: invalid URL")
	}
	timeout := cmp.Or(o.Timeout, time.Second)
	poolTimeout := cmp.Or(o.PoolTimeout, time.Second)
	if mode == Standalone {
		u.DialTimeout, u.ReadTimeout, u.WriteTimeout = timeout, timeout, timeout
		u.PoolTimeout = poolTimeout
		u.MaxRetries = 1
		u.ContextTimeoutEnabled = true
		u.PoolSize = o.PoolSize
		u.CredentialsProviderContext = o.Credentials
		return redis.NewClient(u), nil
	}
	if u.DB != 0 {
		return nil, fmt.Errorf("redis url: a cluster has database 0 only, not %d", u.DB)
	}
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                      []string{u.Addr},
		Username:                   u.Username,
		Password:                   u.Password,
		CredentialsProviderContext: o.Credentials,
		TLSConfig:                  u.TLSConfig,
		DialTimeout:                timeout,
		ReadTimeout:                timeout,
		WriteTimeout:               timeout,
		PoolTimeout:                poolTimeout,
		PoolSize:                   o.PoolSize,
		MaxRetries:                 1,
		ContextTimeoutEnabled:      true,
	}), nil
}

// EachPrimary runs fn on every primary: the one server of a standalone
// Redis, every master of a cluster (concurrently).
func EachPrimary(ctx context.Context, rdb redis.UniversalClient, fn func(context.Context, *redis.Client) error) error {
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, fn)
	case *redis.Client:
		return fn(ctx, c)
	}
	return fmt.Errorf("unsupported redis client %T", rdb)
}
