// Package cache is a read-through Redis cache in front of the course store.
// Entries live one refresh period; exactly one instance refills an expired
// entry (a Redis SET NX lock, plus singleflight inside the process) while the
// others serve the previous value, so an expiry never stampedes the replica.
package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/surge-dev/surge/app/internal/surge"
)

// Source is the store the cache decorates (the read replica).
type Source interface {
	Courses(ctx context.Context) ([]surge.Course, error)
	Course(ctx context.Context, id int64) (surge.Course, error)
}

// Options of the cache. Zero values pick the defaults.
type Options struct {
	// Fresh is how long a refilled entry is served without a refill.
	// Default 1s. A refill is bounded by LoadTimeout, during which other
	// instances serve the previous value, so data served from Redis is at
	// most Fresh+LoadTimeout old.
	Fresh time.Duration
	// LoadTimeout bounds one refill from the store. Default 750ms.
	LoadTimeout time.Duration
	// Local is how long an instance reuses a value it read from Redis
	// without asking Redis again (saves a round trip on every join and
	// poll). Default 250ms; Fresh+LoadTimeout+Local = 2s, the promise.
	Local time.Duration
	// MaxStale bounds the age of the last good copy served while the
	// store cannot be read (a PostgreSQL outage): joining and polling keep
	// working from Redis with course metadata at most this old. Default
	// 15m. Every refill that falls back to it logs the copy's age.
	MaxStale time.Duration
	// Logger receives a warning per fallback to the last good copy.
	Logger *slog.Logger
}

// Courses caches course reads.
type Courses struct {
	src    Source
	rdb    redis.UniversalClient
	prefix string
	o      Options
	group  singleflight.Group
	mu     sync.Mutex
	local  map[string]localEntry
}

// New returns a cache with keys under prefix.
func New(src Source, rdb redis.UniversalClient, prefix string, o Options) *Courses {
	if o.Fresh <= 0 {
		o.Fresh = time.Second
	}
	if o.LoadTimeout <= 0 {
		o.LoadTimeout = 750 * time.Millisecond
	}
	if o.Local <= 0 {
		o.Local = 250 * time.Millisecond
	}
	if o.MaxStale <= 0 {
		o.MaxStale = 15 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Courses{src: src, rdb: rdb, prefix: prefix, o: o, local: map[string]localEntry{}}
}

type localEntry struct {
	b   []byte
	exp time.Time
}

func (c *Courses) fromLocal(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.local[key]
	if !ok || time.Now().After(e.exp) {
		return nil, false
	}
	return e.b, true
}

func (c *Courses) toLocal(key string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.local) > 10000 { // bounded: drop everything rather than track LRU
		clear(c.local)
	}
	c.local[key] = localEntry{b: b, exp: time.Now().Add(c.o.Local)}
}

func (c *Courses) dropLocal(keys ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		delete(c.local, k)
	}
}

type courseJSON struct {
	ID       int64     `json:"id"`
	Code     string    `json:"code"`
	Title    string    `json:"title"`
	Capacity int       `json:"capacity"`
	Enrolled int       `json:"enrolled"`
	OpensAt  time.Time `json:"opensAt"`
}

func toJSON(c surge.Course) courseJSON {
	return courseJSON{c.ID, c.Code, c.Title, c.Capacity, c.Enrolled, c.OpensAt}
}

func (j courseJSON) course() surge.Course {
	return surge.Course{ID: j.ID, Code: j.Code, Title: j.Title, Capacity: j.Capacity, Enrolled: j.Enrolled, OpensAt: j.OpensAt}
}

// The cache's keys: an entry k comes with k:stale, k:last and k:lock, written
// together in one transaction. Each entry's name holds its hash tag in
// braces and the suffixes follow it, so in a Redis Cluster an entry's keys
// share one slot (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags);
// a course's entry shares its tag, and so its node, with the course's
// waiting room (waitroom/scripts.go).
func (c *Courses) listKey() string { return c.prefix + "{courses}" }
func (c *Courses) courseKey(id int64) string {
	return c.prefix + "course:{" + strconv.FormatInt(id, 10) + "}"
}

// Courses lists every course, at most about 2s stale.
func (c *Courses) Courses(ctx context.Context) ([]surge.Course, error) {
	b, err := c.get(ctx, c.listKey(), func(ctx context.Context) ([]byte, error) {
		cs, err := c.src.Courses(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]courseJSON, len(cs))
		for i, x := range cs {
			out[i] = toJSON(x)
		}
		return json.Marshal(out)
	})
	if err != nil {
		return nil, err
	}
	var js []courseJSON
	if err := json.Unmarshal(b, &js); err != nil {
		return nil, fmt.Errorf("decoding cached courses: %w", err)
	}
	cs := make([]surge.Course, len(js))
	for i, j := range js {
		cs[i] = j.course()
	}
	return cs, nil
}

// Course returns one course (surge.ErrCourseNotFound is cached too, so
// unknown ids cannot hammer the database).
func (c *Courses) Course(ctx context.Context, id int64) (surge.Course, error) {
	b, err := c.get(ctx, c.courseKey(id), func(ctx context.Context) ([]byte, error) {
		x, err := c.src.Course(ctx, id)
		if errors.Is(err, surge.ErrCourseNotFound) {
			return []byte("null"), nil
		}
		if err != nil {
			return nil, err
		}
		return json.Marshal(toJSON(x))
	})
	if err != nil {
		return surge.Course{}, err
	}
	var j *courseJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return surge.Course{}, fmt.Errorf("decoding cached course: %w", err)
	}
	if j == nil {
		return surge.Course{}, surge.ErrCourseNotFound
	}
	return j.course(), nil
}

// Prime stores a course just written to the writer (admin create or
// update) and drops the list: joins see the change at once without a
// replica read (which could lag behind the writer).
func (c *Courses) Prime(ctx context.Context, x surge.Course) error {
	b, err := json.Marshal(toJSON(x))
	if err != nil {
		return fmt.Errorf("encoding course: %w", err)
	}
	k, l := c.courseKey(x.ID), c.listKey()
	c.dropLocal(k, l)
	last := append(strconv.AppendInt(nil, time.Now().UnixMilli(), 10), '\n')
	// The course's entry and the list live in different slots, so no
	// transaction spans them (a cluster refuses it): one pipeline, split by
	// node in a cluster. Each write stands alone: every copy is valid.
	_, err = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, k, b, c.o.Fresh)
		p.Set(ctx, k+":stale", b, c.o.Fresh+c.o.LoadTimeout)
		p.Set(ctx, k+":last", append(last, b...), c.o.MaxStale)
		p.Del(ctx, l, l+":stale")
		return nil
	})
	if err != nil {
		return fmt.Errorf("priming course cache: %w", err)
	}
	return nil
}

// Invalidate drops the cached list and the course so that the next read sees
// an admin change at once.
func (c *Courses) Invalidate(ctx context.Context, id int64) error {
	k := c.courseKey(id)
	l := c.listKey()
	c.dropLocal(k, l)
	// One DEL per slot (a cluster refuses a DEL across slots).
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, k, k+":stale")
		p.Del(ctx, l, l+":stale")
		return nil
	})
	if err != nil {
		return fmt.Errorf("invalidating course cache: %w", err)
	}
	return nil
}

func (c *Courses) get(ctx context.Context, key string, load func(context.Context) ([]byte, error)) ([]byte, error) {
	if b, ok := c.fromLocal(key); ok {
		return b, nil
	}
	b, err := c.rdb.Get(ctx, key).Bytes()
	if err == nil {
		c.toLocal(key, b)
		return b, nil
	}
	if !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("reading cache: %w", err)
	}
	v, err, _ := c.group.Do(key, func() (any, error) {
		// Detached from the first caller's cancellation: other callers share it.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.LoadTimeout+time.Second)
		defer cancel()
		return c.refill(lctx, key, load)
	})
	if err != nil {
		return nil, err
	}
	c.toLocal(key, v.([]byte))
	return v.([]byte), nil
}

func (c *Courses) refill(ctx context.Context, key string, load func(context.Context) ([]byte, error)) ([]byte, error) {
	lock := key + ":lock"
	deadline := time.Now().Add(c.o.LoadTimeout + time.Second)
	for {
		got, err := c.rdb.SetNX(ctx, lock, "1", c.o.LoadTimeout).Result()
		if err != nil {
			return nil, fmt.Errorf("locking cache refill: %w", err)
		}
		if got {
			break
		}
		// Someone else refills: serve the previous value meanwhile.
		b, err := c.rdb.Get(ctx, key+":stale").Bytes()
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("reading cache: %w", err)
		}
		if b, err := c.rdb.Get(ctx, key).Bytes(); err == nil {
			return b, nil
		}
		if time.Now().After(deadline) {
			return nil, errors.New("waiting for cache refill: timed out")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	lctx, cancel := context.WithTimeout(ctx, c.o.LoadTimeout)
	defer cancel()
	b, err := load(lctx)
	if err != nil {
		// The fallback copy is still within the staleness bound (its TTL
		// ends there): better than a 503 while the replica struggles.
		// The lock is kept until it expires: one attempt per LoadTimeout.
		// The load may have used up the caller's budget: these Redis reads
		// get their own.
		fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.LoadTimeout)
		defer fcancel()
		if sb, serr := c.rdb.Get(fctx, key+":stale").Bytes(); serr == nil {
			return sb, nil
		}
		if lb, ok := c.lastGood(fctx, key, err); ok {
			// Served for one freshness period before the store is tried
			// again (the lock expires with it), fleet-wide.
			c.rdb.Set(fctx, key, lb, c.o.Fresh)
			return lb, nil
		}
		c.rdb.Del(fctx, lock)
		return nil, fmt.Errorf("refilling cache: %w", err)
	}
	last := append(strconv.AppendInt(nil, time.Now().UnixMilli(), 10), '\n')
	_, err = c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, b, c.o.Fresh)
		// The fallback copy expires when it would break the staleness bound.
		p.Set(ctx, key+":stale", b, c.o.Fresh+c.o.LoadTimeout)
		// The last good copy, with the time it was read, for an outage.
		p.Set(ctx, key+":last", append(last, b...), c.o.MaxStale)
		p.Del(ctx, lock)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("writing cache: %w", err)
	}
	return b, nil
}

// lastGood returns the last good copy of key if it is at most MaxStale old,
// logging its age and the store's error.
func (c *Courses) lastGood(ctx context.Context, key string, loadErr error) ([]byte, bool) {
	v, err := c.rdb.Get(ctx, key+":last").Bytes()
	if err != nil {
		return nil, false
	}
	ts, b, ok := bytes.Cut(v, []byte{'\n'})
	ms, err := strconv.ParseInt(string(ts), 10, 64)
	if !ok || err != nil {
		return nil, false
	}
	age := time.Since(time.UnixMilli(ms))
	if age > c.o.MaxStale {
		return nil, false
	}
	c.o.Logger.Warn("course store unavailable: serving the last good copy", "key", key,
		"age", age.Round(time.Millisecond).String(), "maxStale", c.o.MaxStale.String(), "err", loadErr)
	return b, true
}
