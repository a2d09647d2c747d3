// Package sessions keeps login sessions in Redis so that any instance serves
// any request. The cookie carries the student's id and a random 256-bit
// session id; Redis stores only the SHA-256 of the session id, so a leaked
// Redis dump does not hand out live sessions.
//
// Every session key of a student shares the hash tag {u<student>} with the
// student's index of sessions, so creating and revoking them are single-slot
// operations on a Redis Cluster too.
//
// An instance that runs Watch also remembers the sessions it has verified
// (by hash, until they expire) and answers them without Redis, so that an
// API request makes one Redis round trip (its waiting-room script) instead
// of two. Revocation stays immediate: the script that deletes a session
// publishes its hash on the revocation channel in the same atomic step, and
// every instance forgets it on receipt. An instance trusts what it
// remembers only while its subscription is proven alive (a ping answered
// within maxSilence); otherwise it reads Redis on every request, as without
// Watch. docs/decisions/session-verification.md compares the options.
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
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/surge-dev/surge/app/internal/surge"
)

// Store is the session store.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
	known  *verified
}

// New returns a store with keys under prefix; sessions live ttl after login.
// Without Watch every check reads Redis.
func New(rdb redis.UniversalClient, prefix string, ttl time.Duration) *Store {
	return &Store{rdb: rdb, prefix: prefix, ttl: ttl, known: newVerified(maxKnown)}
}

// TTL is the lifetime of a new session.
func (s *Store) TTL() time.Duration { return s.ttl }

// idLen is the length of a session id: base64 of 32 random bytes.
const idLen = 43

// session is a parsed cookie value "<student>.<id>".
type session struct {
	student int64
	hash    [32]byte // SHA-256 of the id
}

// parse reads a cookie value; ok is false for anything never issued.
func parse(v string) (session, bool) {
	ss, sid, ok := strings.Cut(v, ".")
	if !ok || len(sid) != idLen || len(ss) == 0 || len(ss) > 19 || ss[0] == '0' {
		return session{}, false
	}
	n, err := strconv.ParseInt(ss, 10, 64)
	if err != nil || n <= 0 {
		return session{}, false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(sid); err != nil {
		return session{}, false
	}
	return session{student: n, hash: sha256.Sum256([]byte(sid))}, true
}

// indexKey is the set of a student's session hashes; a session's key is the
// index key, ':' and its hash.
func (s *Store) indexKey(student int64) string {
	return s.prefix + "sess:{u" + strconv.FormatInt(student, 10) + "}"
}

func (s *Store) key(ss session) string {
	return s.indexKey(ss.student) + ":" + hex.EncodeToString(ss.hash[:])
}

// channel carries the hashes of revoked sessions, space-separated.
func (s *Store) channel() string { return s.prefix + "sess:revoked" }

// Create starts a session for a student and returns the cookie value.
func (s *Store) Create(ctx context.Context, studentID int64) (string, error) {
	if studentID <= 0 {
		return "", fmt.Errorf("storing session: student id %d", studentID)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating session id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	v := strconv.FormatInt(studentID, 10) + "." + id
	ss, _ := parse(v)
	k, idx := s.key(ss), s.indexKey(studentID)
	// The index lives as long as the student's newest session, so that an
	// admin can revoke every session of a student.
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, k, studentID, s.ttl)
		p.SAdd(ctx, idx, hex.EncodeToString(ss.hash[:]))
		p.Expire(ctx, idx, s.ttl)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("storing session: %w", err)
	}
	return v, nil
}

// Student returns the student of a session: from what this instance
// verified before when that can be trusted, else from Redis.
func (s *Store) Student(ctx context.Context, cookie string) (int64, error) {
	ss, ok := parse(cookie)
	if !ok {
		return 0, surge.ErrNoSession
	}
	now := time.Now()
	hit, gen, trusted := s.known.lookup(ss, now)
	if hit {
		return ss.student, nil
	}
	k := s.key(ss)
	var get *redis.StringCmd
	var ttl *redis.DurationCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, k)
		ttl = p.PTTL(ctx, k)
		return nil
	})
	if errors.Is(err, redis.Nil) {
		return 0, surge.ErrNoSession
	}
	if err != nil {
		return 0, fmt.Errorf("reading session: %w", err)
	}
	v, err := get.Result()
	if err != nil {
		return 0, fmt.Errorf("reading session: %w", err)
	}
	if n, err := strconv.ParseInt(v, 10, 64); err != nil || n != ss.student {
		return 0, surge.ErrNoSession // the key names its student: never written so
	}
	if left := ttl.Val(); trusted && left > 0 {
		s.known.remember(ss, now.Add(left), gen)
	}
	return ss.student, nil
}

// deleteScript KEYS: session, index; ARGV: hash, channel. Deletes a session,
// its entry in the index, and tells every instance to forget it.
var deleteScript = redis.NewScript(`
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1
`)

// Delete ends a session (no error if it did not exist).
func (s *Store) Delete(ctx context.Context, cookie string) error {
	ss, ok := parse(cookie)
	if !ok {
		return nil // never issued: nothing to end
	}
	h := hex.EncodeToString(ss.hash[:])
	s.known.forget(h)
	if err := deleteScript.Run(ctx, s.rdb, []string{s.key(ss), s.indexKey(ss.student)}, h, s.channel()).Err(); err != nil {
		return fmt.Errorf("deleting session: %w", err)
	}
	return nil
}

// revokeScript KEYS: index; ARGV: channel. Deletes every session in the
// index and the index, publishes the hashes of the live ones and returns
// them. The session keys share the index's hash tag (same slot).
var revokeScript = redis.NewScript(`
local gone = {}
for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('DEL', KEYS[1] .. ':' .. h) == 1 then gone[#gone+1] = h end
end
redis.call('DEL', KEYS[1])
if #gone > 0 then redis.call('PUBLISH', ARGV[1], table.concat(gone, ' ')) end
return gone
`)

// RevokeAll ends every session of a student and returns how many were live.
func (s *Store) RevokeAll(ctx context.Context, studentID int64) (int, error) {
	gone, err := revokeScript.Run(ctx, s.rdb, []string{s.indexKey(studentID)}, s.channel()).StringSlice()
	if err != nil {
		return 0, fmt.Errorf("revoking sessions: %w", err)
	}
	s.known.forget(gone...)
	return len(gone), nil
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
