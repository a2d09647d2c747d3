// Package sessions keeps login sessions in Redis so that any instance serves
// any request. The cookie carries a random 256-bit id; Redis stores only its
// SHA-256, so a leaked Redis dump does not hand out live sessions.
package sessions

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/surge-dev/surge/app/internal/surge"
)

// Store is the session store.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// New returns a store with keys under prefix; sessions live ttl after login.
func New(rdb redis.UniversalClient, prefix string, ttl time.Duration) *Store {
	return &Store{rdb: rdb, prefix: prefix, ttl: ttl}
}

// TTL is the lifetime of a new session.
func (s *Store) TTL() time.Duration { return s.ttl }

func (s *Store) key(id string) string {
	sum := sha256.Sum256([]byte(id))
	return s.prefix + "sess:" + hex.EncodeToString(sum[:])
}

// Create starts a session for a student and returns its id.
func (s *Store) Create(ctx context.Context, studentID int64) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating session id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	k, idx := s.key(id), s.indexKey(studentID)
	// The student's index lives as long as their newest session, so that an
	// admin can revoke every session of a student.
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, k, studentID, s.ttl)
		p.SAdd(ctx, idx, k)
		p.Expire(ctx, idx, s.ttl)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("storing session: %w", err)
	}
	return id, nil
}

func (s *Store) indexKey(studentID int64) string {
	return s.prefix + "sessu:" + strconv.FormatInt(studentID, 10)
}

// revokeScript KEYS: index. Deletes every session in the index and the index.
var revokeScript = redis.NewScript(`
local ks = redis.call('SMEMBERS', KEYS[1])
local n = 0
for _, k in ipairs(ks) do n = n + redis.call('DEL', k) end
redis.call('DEL', KEYS[1])
return n
`)

// RevokeAll ends every session of a student and returns how many were live.
func (s *Store) RevokeAll(ctx context.Context, studentID int64) (int, error) {
	n, err := revokeScript.Run(ctx, s.rdb, []string{s.indexKey(studentID)}).Int()
	if err != nil {
		return 0, fmt.Errorf("revoking sessions: %w", err)
	}
	return n, nil
}

// Student returns the student of a session.
func (s *Store) Student(ctx context.Context, id string) (int64, error) {
	if len(id) != 43 { // base64 of 32 bytes: anything else was never issued
		return 0, surge.ErrNoSession
	}
	v, err := s.rdb.Get(ctx, s.key(id)).Result()
	if errors.Is(err, redis.Nil) {
		return 0, surge.ErrNoSession
	}
	if err != nil {
		return 0, fmt.Errorf("reading session: %w", err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing session: %w", err)
	}
	return n, nil
}

// deleteScript KEYS: session; ARGV: index prefix. Deletes a session and its
// entry in the student's index.
var deleteScript = redis.NewScript(`
local sid = redis.call('GET', KEYS[1])
if not sid then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', ARGV[1] .. sid, KEYS[1])
return 1
`)

// Delete ends a session (no error if it did not exist).
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := deleteScript.Run(ctx, s.rdb, []string{s.key(id)}, s.prefix+"sessu:").Err(); err != nil {
		return fmt.Errorf("deleting session: %w", err)
	}
	return nil
}

// Failures returns, for each throttle key (sign-in failures of an account or
// a client address), the failures counted in its current window and the time
// left in that window.
func (s *Store) Failures(ctx context.Context, keys ...string) (counts []int64, left []time.Duration, err error) {
	cmds := make([]*redis.StringCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, s.prefix+"login:"+k)
			ttls[i] = p.PTTL(ctx, s.prefix+"login:"+k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("reading sign-in throttles: %w", err)
	}
	counts = make([]int64, len(keys))
	left = make([]time.Duration, len(keys))
	for i := range keys {
		if n, err := cmds[i].Int64(); err == nil {
			counts[i] = n
		}
		left[i] = max(0, ttls[i].Val())
	}
	return counts, left, nil
}

// failureScript KEYS: counter; ARGV: window in ms. The window starts with
// the first failure (no EXPIRE NX: it needs Redis 7).
var failureScript = redis.NewScript(`
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1
`)

// AddFailure counts one sign-in failure for each key, in fixed windows that
// start with the first failure.
func (s *Store) AddFailure(ctx context.Context, windows map[string]time.Duration) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, w := range windows {
			failureScript.Eval(ctx, p, []string{s.prefix + "login:" + k}, w.Milliseconds())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("counting sign-in failure: %w", err)
	}
	return nil
}
