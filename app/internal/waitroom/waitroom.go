// Package waitroom is the per-course waiting room in Redis: tickets, queue
// positions, the in-flight batches of admitters and the waiting list of
// students whose turn came when no seat was free.
package waitroom

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/surge-dev/surge/app/internal/redisconn"
	"github.com/surge-dev/surge/app/internal/surge"
)

// EpochBits: a ticket is epoch<<EpochBits + sequence. With epochs below 2^21
// tickets stay below 2^53 and survive JSON numbers and Lua doubles.
const EpochBits = 32

// EpochSource gives a new ticket epoch for a course when Redis lost the
// course's counter (PostgreSQL keeps the epoch).
type EpochSource interface {
	NextTicketEpoch(ctx context.Context, courseID int64) (int64, error)
}

// Room is the waiting room of every course.
type Room struct {
	rdb     redis.UniversalClient
	prefix  string
	epochs  EpochSource
	seeding singleflight.Group
	reqBase string // random per Room: request ids never collide across processes
	reqN    atomic.Uint64
}

// New returns a room using keys under prefix (e.g. "surge:").
func New(rdb redis.UniversalClient, prefix string, epochs EpochSource) *Room {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return &Room{rdb: rdb, prefix: prefix, epochs: epochs, reqBase: hex.EncodeToString(b[:])}
}

// requestID names one call of a script that is not idempotent by itself, so
// that the client's retry of it is answered as the first run was.
func (r *Room) requestID() string {
	return r.reqBase + "-" + strconv.FormatUint(r.reqN.Add(1), 10)
}

// key is the Redis name of the waiting room's key k for a course (scripts.go
// lists the keys and their layout); reply completes keyReply.
func (r *Room) key(course int64, k keyName, reply string) string {
	switch k {
	case keyRooms, keySweep:
		return r.prefix + string(k)
	case keyReply:
		return r.courseBase(course) + string(k) + ":" + reply
	}
	return r.courseBase(course) + string(k)
}

// courseBase starts every key of a course: <prefix>c:{<id>}:, the braces
// holding the hash tag.
func (r *Room) courseBase(course int64) string { return r.coursePrefix() + "{" + id(course) + "}:" }

// coursePrefix starts every per-course key.
func (r *Room) coursePrefix() string { return r.prefix + "c:" }

// keysOf is the KEYS list of script s for a course, in the order s declares
// its keys: the only place a script's KEYS are built.
func (r *Room) keysOf(s script, course int64, reply string) []string {
	keys := make([]string, len(s.keys))
	for n, k := range s.keys {
		keys[n] = r.key(course, k, reply)
	}
	return keys
}

// run runs script s for a course.
func (r *Room) run(ctx context.Context, s script, course int64, reply string, args ...any) *redis.Cmd {
	return s.Run(ctx, r.rdb, r.keysOf(s, course, reply), args...)
}

// runEach runs script s once per course in one pipeline (in a cluster, one
// per node, in parallel). Redis caches scripts per node and forgets them on
// a restart: if any node answers NOSCRIPT the whole pipeline is sent again
// with the script's source, so s must be idempotent.
func (r *Room) runEach(ctx context.Context, s script, courses []int64) ([]*redis.Cmd, error) {
	send := func(withSource bool) ([]*redis.Cmd, error) {
		cmds := make([]*redis.Cmd, len(courses))
		_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for n, c := range courses {
				if withSource {
					cmds[n] = s.Eval(ctx, p, r.keysOf(s, c, ""))
				} else {
					cmds[n] = s.EvalSha(ctx, p, r.keysOf(s, c, ""))
				}
			}
			return nil
		})
		return cmds, err
	}
	cmds, err := send(false)
	if err != nil && slices.ContainsFunc(cmds, func(c *redis.Cmd) bool { return redis.HasErrorPrefix(c.Err(), "NOSCRIPT") }) {
		cmds, err = send(true)
	}
	return cmds, err
}

func id(v int64) string { return strconv.FormatInt(v, 10) }

func toStatus(res []any) (surge.Status, error) {
	if len(res) != 3 {
		return surge.Status{}, fmt.Errorf("unexpected script reply %v", res)
	}
	s, _ := res[0].(string)
	ts, _ := res[1].(string)
	pos, _ := res[2].(int64)
	st := surge.Status{State: surge.StateNone}
	switch s {
	case stQueued, stInFlight:
		st.State = surge.StateQueued
		st.Position = pos
	case stFull, stOffered:
		st.State = surge.StateFull
	case stEnrolled:
		st.State = surge.StateEnrolled
	}
	if st.State != surge.StateNone && ts != "" {
		t, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return surge.Status{}, fmt.Errorf("parsing ticket %q: %w", ts, err)
		}
		st.Ticket = t
	}
	return st, nil
}

// Join puts a student in the course's queue, or returns their current state
// when they are already queued, full or enrolled. It touches PostgreSQL only
// when Redis lost the course's ticket counter (once per course per loss).
func (r *Room) Join(ctx context.Context, course, student int64) (surge.Status, error) {
	keys := r.keysOf(joinScript, course, "")
	for attempt := 0; ; attempt++ {
		res, err := joinScript.Run(ctx, r.rdb, keys, id(student)).Slice()
		if err != nil {
			return surge.Status{}, fmt.Errorf("joining queue: %w", err)
		}
		if s, _ := res[0].(string); s == "noseq" {
			if attempt == 2 {
				return surge.Status{}, errors.New("joining queue: ticket counter missing after seeding")
			}
			if err := r.seed(ctx, course); err != nil {
				return surge.Status{}, err
			}
			continue
		}
		return toStatus(res)
	}
}

// seed raises the course's ticket counter above every ticket issued before:
// a new epoch from PostgreSQL, shifted into the high bits. Only one caller
// across the fleet bumps the epoch per loss (singleflight in the process, a
// Redis lock across processes); the others wait for the counter to appear,
// so a burst of joins after a Redis restart costs one statement, not one
// per join.
func (r *Room) seed(ctx context.Context, course int64) error {
	seq, lock := r.key(course, keySeq, ""), r.key(course, keySeqLock, "")
	_, err, _ := r.seeding.Do(seq, func() (any, error) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		for {
			got, err := r.rdb.SetNX(sctx, lock, "1", 2*time.Second).Result()
			if err != nil {
				return nil, fmt.Errorf("seeding ticket counter: %w", err)
			}
			if got {
				break
			}
			n, err := r.rdb.Exists(sctx, seq).Result()
			if err != nil {
				return nil, fmt.Errorf("seeding ticket counter: %w", err)
			}
			if n == 1 {
				return nil, nil // another instance seeded it
			}
			select {
			case <-sctx.Done():
				return nil, fmt.Errorf("seeding ticket counter: %w", sctx.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
		defer r.rdb.Del(sctx, lock)
		if n, err := r.rdb.Exists(sctx, seq).Result(); err != nil || n == 1 {
			return nil, err
		}
		epoch, err := r.epochs.NextTicketEpoch(sctx, course)
		if err != nil {
			return nil, fmt.Errorf("seeding ticket counter: %w", err)
		}
		if epoch <= 0 || epoch >= 1<<(53-EpochBits) {
			return nil, fmt.Errorf("seeding ticket counter: epoch %d out of range", epoch)
		}
		if err := r.register(sctx, course); err != nil {
			return nil, err
		}
		if err := r.run(sctx, seedScript, course, "", id(epoch<<EpochBits)).Err(); err != nil {
			return nil, fmt.Errorf("seeding ticket counter: %w", err)
		}
		return nil, nil
	})
	return err
}

// Heal is called when the database refused batch b because its fencing
// token is not above the course's fence: either a newer admitter granted
// meanwhile (nothing to do), or Redis came back with an older counter, in
// which case every new token would be refused too. In the latter case the
// counter moves to a new epoch from PostgreSQL (above every ticket and token
// issued before) and b's lease is handed back, so the next batch grants at
// once. healed reports the latter.
func (r *Room) Heal(ctx context.Context, b surge.Batch, fence int64) (healed bool, err error) {
	seqKey := r.key(b.Course, keySeq, "")
	behind := func() (bool, error) {
		seq, err := r.rdb.Get(ctx, seqKey).Int64()
		if errors.Is(err, redis.Nil) {
			return false, nil // lost: the next take seeds a new epoch anyway
		}
		if err != nil {
			return false, fmt.Errorf("reading ticket counter: %w", err)
		}
		return seq <= fence, nil
	}
	if ok, err := behind(); err != nil || !ok {
		return false, err
	}
	_, err, _ = r.seeding.Do(seqKey+":heal", func() (any, error) {
		if ok, err := behind(); err != nil || !ok {
			return nil, err // healed meanwhile
		}
		epoch, err := r.epochs.NextTicketEpoch(ctx, b.Course)
		if err != nil {
			return nil, fmt.Errorf("healing ticket counter: %w", err)
		}
		if epoch <= 0 || epoch >= 1<<(53-EpochBits) || epoch<<EpochBits <= fence {
			return nil, fmt.Errorf("healing ticket counter: epoch %d out of range", epoch)
		}
		if err := r.register(ctx, b.Course); err != nil {
			return nil, err
		}
		if err := r.run(ctx, seedScript, b.Course, "", id(epoch<<EpochBits)).Err(); err != nil {
			return nil, fmt.Errorf("healing ticket counter: %w", err)
		}
		return nil, nil
	})
	if err != nil {
		return false, err
	}
	if err := r.Release(ctx, b); err != nil {
		return true, err
	}
	return true, nil
}

// Seed makes sure the course's ticket counter exists (called when a course
// is created, so that joining normally never needs PostgreSQL).
func (r *Room) Seed(ctx context.Context, course int64) error {
	n, err := r.rdb.Exists(ctx, r.key(course, keySeq, "")).Result()
	if err != nil {
		return fmt.Errorf("checking ticket counter: %w", err)
	}
	if n == 1 {
		return nil
	}
	return r.seed(ctx, course)
}

// Status returns a student's state in a course. Redis only.
func (r *Room) Status(ctx context.Context, course, student int64) (surge.Status, error) {
	res, err := r.run(ctx, statusScript, course, "", id(student)).Slice()
	if err != nil {
		return surge.Status{}, fmt.Errorf("reading queue state: %w", err)
	}
	return toStatus(res)
}

// DecidedThrough is how far admission of a course has got: the highest
// ticket such that every ticket at or below it was decided (enrolled, on the
// waiting list, or gone). It is 0 when the course has no ticket counter in
// Redis (never seeded, or lost): nothing is claimed then. One round trip.
func (r *Room) DecidedThrough(ctx context.Context, course int64) (int64, error) {
	s, err := r.run(ctx, decidedScript, course, "").Text()
	if err != nil {
		return 0, fmt.Errorf("reading admission progress: %w", err)
	}
	if s == "" {
		return 0, nil
	}
	t, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing admission progress %q: %w", s, err)
	}
	return max(t, 0), nil
}

// Leave removes a student from the queue or the waiting list; ok is false
// when they were neither queued nor full.
func (r *Room) Leave(ctx context.Context, course, student int64) (ok bool, err error) {
	n, err := r.run(ctx, leaveScript, course, r.requestID(), id(student)).Int()
	if err != nil {
		return false, fmt.Errorf("leaving queue: %w", err)
	}
	return n == 1, nil
}

// Cancelled records that a student's enrollment is gone from PostgreSQL and
// wakes the admitter for the freed seat. wasEnrolled reports whether Redis
// still showed them enrolled.
func (r *Room) Cancelled(ctx context.Context, course, student int64) (wasEnrolled bool, err error) {
	n, err := r.run(ctx, cancelledScript, course, "", id(student)).Int()
	if err != nil {
		return false, fmt.Errorf("recording cancellation: %w", err)
	}
	return n == 1, nil
}

// CancelEnrolled is the first step of a cancellation, before the seat is
// deleted in PostgreSQL: a student Redis shows enrolled is taken out of the
// course (state none) and the admitter wakes. wasEnrolled reports whether
// Redis showed them enrolled (if not, nothing changed), ticket is theirs
// (for RestoreEnrolled).
func (r *Room) CancelEnrolled(ctx context.Context, course, student int64) (wasEnrolled bool, ticket int64, err error) {
	s, err := r.run(ctx, cancelEnrolledScript, course, "", id(student)).Text()
	if err != nil {
		return false, 0, fmt.Errorf("recording cancellation: %w", err)
	}
	if s == "" {
		return false, 0, nil
	}
	ticket, _ = strconv.ParseInt(s, 10, 64)
	return true, ticket, nil
}

// RestoreEnrolled undoes CancelEnrolled when the seat was certainly not
// deleted (the database refused or could not be reached), unless the
// student has a state again meanwhile.
func (r *Room) RestoreEnrolled(ctx context.Context, course, student, ticket int64) error {
	if err := r.run(ctx, restoreEnrolledScript, course, "", id(student), id(ticket)).Err(); err != nil {
		return fmt.Errorf("restoring enrollment: %w", err)
	}
	return nil
}

// SeatsFreed wakes the admitter for a course whose seats may have been freed
// (capacity increase, a seat given back).
func (r *Room) SeatsFreed(ctx context.Context, course int64) error {
	if err := r.run(ctx, freedScript, course, "").Err(); err != nil {
		return fmt.Errorf("waking admitter: %w", err)
	}
	return nil
}

// register adds a course to keyRooms, where admitters look for work. It
// runs before the course's counter is seeded, so that no course has a
// counter without being listed (a crash in between leaves a listed course
// without a counter, which is harmless). The set is written by this
// single-key command, never by a script: in a cluster it lives on another
// node than most courses.
func (r *Room) register(ctx context.Context, course int64) error {
	if err := r.rdb.SAdd(ctx, r.key(0, keyRooms, ""), id(course)).Err(); err != nil {
		return fmt.Errorf("registering course: %w", err)
	}
	return nil
}

// rooms lists every course whose counter was seeded. When the set lacks
// roomsScanned (a fresh Redis, an upgrade, or the node holding it lost its
// data while others kept theirs) it is rebuilt first from the counters
// found on every primary: a course is never left unlisted with students in
// its queue. Rebuilding scans the keyspace once per loss.
func (r *Room) rooms(ctx context.Context) ([]int64, error) {
	key := r.key(0, keyRooms, "")
	ms, err := r.rdb.SMembers(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("listing courses: %w", err)
	}
	if !slices.Contains(ms, roomsScanned) {
		found, err := r.scanCounters(ctx)
		if err != nil {
			return nil, err
		}
		add := append([]any{roomsScanned}, found...)
		if err := r.rdb.SAdd(ctx, key, add...).Err(); err != nil {
			return nil, fmt.Errorf("rebuilding course list: %w", err)
		}
		for _, f := range found {
			ms = append(ms, f.(string))
		}
	}
	out := make([]int64, 0, len(ms))
	seen := make(map[int64]bool, len(ms))
	for _, m := range ms {
		if v, err := strconv.ParseInt(m, 10, 64); err == nil && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out, nil
}

// scanCounters returns the ids of the courses that have a ticket counter,
// from every primary.
func (r *Room) scanCounters(ctx context.Context) ([]any, error) {
	base := r.coursePrefix() + "{"
	suffix := "}:" + string(keySeq)
	match := globEscape(base) + "*" + globEscape(suffix)
	var mu sync.Mutex
	var found []any
	err := redisconn.EachPrimary(ctx, r.rdb, func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, match, 1000).Iterator()
		for it.Next(ctx) {
			rest, _ := strings.CutPrefix(it.Val(), base)
			if cs, ok := strings.CutSuffix(rest, suffix); ok {
				if _, err := strconv.ParseInt(cs, 10, 64); err == nil {
					mu.Lock()
					found = append(found, cs)
					mu.Unlock()
				}
			}
		}
		return it.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("scanning for ticket counters: %w", err)
	}
	return found, nil
}

// globEscape quotes the glob characters of SCAN's MATCH.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// probe is what probeScript says of a course.
type probe struct {
	course           int64
	work             bool
	undecided, waits int64
}

// probeAll runs probeScript for every listed course: one pipelined round
// trip (per node in a cluster).
func (r *Room) probeAll(ctx context.Context) ([]probe, error) {
	courses, err := r.rooms(ctx)
	if err != nil || len(courses) == 0 {
		return nil, err
	}
	cmds, err := r.runEach(ctx, probeScript, courses)
	if err != nil {
		return nil, fmt.Errorf("probing courses: %w", err)
	}
	out := make([]probe, len(courses))
	for n, c := range cmds {
		v, err := c.Int64Slice()
		if err != nil || len(v) != 3 {
			return nil, fmt.Errorf("probing course %d: unexpected reply %v (%w)", courses[n], c.Val(), err)
		}
		out[n] = probe{course: courses[n], work: v[0] == 1, undecided: v[1], waits: v[2]}
	}
	return out, nil
}

// ActiveCourses lists courses with queued students, a batch in flight or a
// freed seat: those where a take has something to do.
func (r *Room) ActiveCourses(ctx context.Context) ([]int64, error) {
	ps, err := r.probeAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing active courses: %w", err)
	}
	var out []int64
	for _, p := range ps {
		if p.work {
			out = append(out, p.course)
		}
	}
	return out, nil
}

// Queued counts the students of these courses still waiting for a decision:
// queued, or in a batch being granted. One pipelined round trip.
func (r *Room) Queued(ctx context.Context, courses []int64) (int64, error) {
	if len(courses) == 0 {
		return 0, nil
	}
	cmds := make([]*redis.IntCmd, 0, 2*len(courses))
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range courses {
			cmds = append(cmds, p.ZCard(ctx, r.key(c, keyQueue, "")), p.ZCard(ctx, r.key(c, keyInFlight, "")))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("counting queued students: %w", err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}

// Sweep, at most once per interval across all instances, asks withSeats
// (the database) which courses with a waiting list have a free seat and
// marks those freed, so that a seat whose wake-up was lost (Redis failed,
// was unreachable or lost its data when the seat was freed) reaches the
// lowest full ticket within the interval. It returns the number marked.
func (r *Room) Sweep(ctx context.Context, interval time.Duration, withSeats func(ctx context.Context, courses []int64) ([]int64, error)) (int, error) {
	ok, err := r.rdb.SetNX(ctx, r.key(0, keySweep, ""), "1", interval).Result()
	if err != nil || !ok {
		return 0, err
	}
	ps, err := r.probeAll(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing waiting lists: %w", err)
	}
	var cs []int64
	for _, p := range ps {
		if p.waits > 0 {
			cs = append(cs, p.course)
		}
	}
	if len(cs) == 0 {
		return 0, nil
	}
	free, err := withSeats(ctx, cs)
	if err != nil || len(free) == 0 {
		return 0, err
	}
	// One script per course (a script never touches two courses), in one
	// pipeline.
	cmds, err := r.runEach(ctx, freedScript, free)
	if err != nil {
		return 0, fmt.Errorf("marking freed seats: %w", err)
	}
	return len(cmds), nil
}

// Take leases the lowest tickets of a course, at most size of each kind:
// waiting-list students first, only when a seat may have been freed since
// the list was last offered (or the course lost its data), then queued
// students, only when the whole waiting list fits in the batch. While the waiting list is not empty and no seat
// was freed, up to size queued students move to the waiting list in one step
// (Batch.Moved, no lease).
// A batch whose lease expired goes back to the queue first. It returns an
// empty batch (Token 0) when there is nothing to do, surge.ErrLeaseBusy when
// another admitter holds the course's lease.
func (r *Room) Take(ctx context.Context, course int64, size int, lease time.Duration) (surge.Batch, error) {
	keys := r.keysOf(takeScript, course, "")
	for attempt := 0; ; attempt++ {
		res, err := takeScript.Run(ctx, r.rdb, keys, lease.Milliseconds(), size, r.requestID()).Slice()
		if err != nil {
			return surge.Batch{}, fmt.Errorf("taking batch: %w", err)
		}
		switch s, _ := res[0].(string); s {
		case "busy":
			return surge.Batch{}, surge.ErrLeaseBusy
		case "idle":
			return surge.Batch{Course: course}, nil
		case "moved":
			n, _ := res[1].(int64)
			b := surge.Batch{Course: course, Moved: int(n)}
			if len(res) > 2 {
				through, _ := res[2].(string)
				b.MovedThrough, _ = strconv.ParseInt(through, 10, 64)
			}
			return b, nil
		case "noseq":
			if attempt > 0 {
				return surge.Batch{}, errors.New("taking batch: ticket counter missing after seeding")
			}
			if err := r.seed(ctx, course); err != nil {
				return surge.Batch{}, err
			}
			continue
		case "ok":
		default:
			return surge.Batch{}, fmt.Errorf("taking batch: unexpected reply %v", res)
		}
		b := surge.Batch{Course: course}
		var err2 error
		if b.Token, err2 = parseInt(res[1]); err2 != nil {
			return surge.Batch{}, err2
		}
		for j := 2; j+1 < len(res); j += 2 {
			s, err := parseInt(res[j])
			if err != nil {
				return surge.Batch{}, err
			}
			t, err := parseInt(res[j+1])
			if err != nil {
				return surge.Batch{}, err
			}
			b.Candidates = append(b.Candidates, surge.Candidate{StudentID: s, Ticket: t})
		}
		return b, nil
	}
}

func parseInt(v any) (int64, error) {
	s, _ := v.(string)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing %v: %w", v, err)
	}
	return n, nil
}

// outcomeCodes are the outcomes as the complete script reads them.
var outcomeCodes = map[surge.Outcome]string{
	surge.OutcomeGranted:         outcomeGranted,
	surge.OutcomeAlreadyEnrolled: outcomeAlreadyEnrolled,
	surge.OutcomeFull:            outcomeFull,
	surge.OutcomeUnknown:         outcomeUnknown,
}

// Complete records the outcome of a batch and releases the lease. Grants are
// recorded even when the lease was lost (the seats are committed). It returns
// the granted students who left the queue while in flight: the caller must
// give their seats back and then Release the lease, which is kept meanwhile.
// A batch is completed once: calling Complete again for it (a retry after an
// error whose outcome is unknown) answers what the first call did.
func (r *Room) Complete(ctx context.Context, b surge.Batch, outcomes map[int64]surge.Outcome) (left []int64, err error) {
	args := make([]any, 0, 1+3*len(b.Candidates))
	args = append(args, id(b.Token))
	for _, c := range b.Candidates {
		code, ok := outcomeCodes[outcomes[c.StudentID]]
		if !ok {
			continue // stays in flight; returns to the queue when the lease expires
		}
		args = append(args, code, id(c.StudentID), id(c.Ticket))
	}
	res, err := r.run(ctx, completeScript, b.Course, "done:"+id(b.Token), args...).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("completing batch: %w", err)
	}
	for _, s := range res {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			left = append(left, v)
		}
	}
	return left, nil
}

// Release hands a lease back without outcomes: its students return to the
// queue or the waiting list they came from, with their original tickets
// (used on shutdown and after errors).
func (r *Room) Release(ctx context.Context, b surge.Batch) error {
	if err := r.run(ctx, releaseScript, b.Course, "", id(b.Token)).Err(); err != nil {
		return fmt.Errorf("releasing lease: %w", err)
	}
	return nil
}

// Ping checks that Redis answers.
func (r *Room) Ping(ctx context.Context) error { return r.rdb.Ping(ctx).Err() }
