package waitroom

import (
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Every operation on a course's waiting room is one Lua script, so Redis runs
// it atomically: no interleaving of joins, takes, completions and leaves.
// docs/app.md draws the per-student state machine these scripts implement.
//
// The client retries a command after a dropped connection or a read
// timeout although Redis may have run it already. Join, status, seed,
// cancelled, freed, probe and release are idempotent by their state checks;
// take, leave and complete carry a request id and answer a retry as they
// answered the first run.
//
// Tickets and tokens are integers below 2^53, formatted with %.0f because
// Lua numbers are doubles and tostring would use exponent notation.

// keyName names one Redis key of the waiting room. Every key of a course c
// is <prefix>c:{<c>}:<name>: the braces make the course id the key's hash
// tag, so in a Redis Cluster all of a course's keys (and its progress
// channel, progress.go) live in one slot, and every script, which touches
// one course only, runs on the shard that owns it
// (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags).
// No script touches a key of another course or a key shared by courses.
// Outside the scripts, two keys are shared: keyRooms and keySweep, each
// used alone by single-key commands. In a script, the key is K.<name>.
type keyName string

// The waiting room's keys.
const (
	keySeq          keyName = "seq"     // last ticket issued (also the source of fencing tokens)
	keyHi           keyName = "hi"      // highest ticket or token ever issued: a counter at or below it was rolled back (see nextTicket)
	keyState        keyName = "st"      // hash student -> state (the st* constants)
	keyTicket       keyName = "tk"      // hash student -> ticket
	keyQueue        keyName = "q"       // zset of queued students by ticket
	keyInFlight     keyName = "i"       // zset of students taken by an admitter, by ticket
	keyFull         keyName = "f"       // zset of the waiting list (state full) by ticket
	keyFromFull     keyName = "fi"      // how many in-flight students came from the waiting list (the lowest tickets; positions do not count them)
	keyLease        keyName = "lease"   // the current admitter's fencing token; expires with the lease
	keyLeaseRequest keyName = "leaserq" // request id of the take that holds the lease
	keyFreed        keyName = "freed"   // set when a seat may have been freed (cancel, capacity up, a seat given back, a batch handed back or expired)
	keyLost         keyName = "lost"    // set when the counter was re-seeded after a data loss
	// keyReply is rq:<request id>: the answer of a leave, or of a batch's
	// completion (rq:done:<token>), kept 60 s so that a retry gets it again.
	keyReply keyName = "rq"
	// keySeqLock is held while one instance seeds the course's counter.
	keySeqLock keyName = "seqlock"
	// keyProgress is the course's progress channel (SPUBLISH), not a key.
	keyProgress keyName = "progress"

	// Shared by all courses, never in a script:
	// keyRooms is the set of course ids whose counter was ever seeded, plus
	// the member roomsScanned once the set was rebuilt from the counters
	// themselves (after the set was lost). Admitters look for work there.
	keyRooms keyName = "rooms"
	keySweep keyName = "sweep" // held for the sweep interval by the instance that sweeps
)

// roomsScanned marks a keyRooms set that lists every seeded course: without
// it (a new Redis, or the node holding the set lost its data while other
// nodes kept their courses) the set is rebuilt by scanning for counters.
const roomsScanned = "scanned"

// A student's state in a course, as the scripts store it in keyState. The
// API shows stQueued and stInFlight as queued, stFull and stOffered as full
// (toStatus); no entry is state none.
const (
	stQueued   = "q" // holds a ticket in keyQueue
	stInFlight = "i" // taken from the queue by an admitter (keyInFlight)
	stFull     = "f" // no seat at their turn: on the waiting list (keyFull)
	stOffered  = "j" // taken from the waiting list by an admitter (keyInFlight)
	stEnrolled = "e" // holds a seat
)

// script is a Lua script with the names of its keys: KEYS[n] is the key
// named keys[n-1], which the script reads as K.<name>. The script's prelude
// and the caller's KEYS list (Room.keysOf) are both built from keys, so
// they cannot disagree on positions.
type script struct {
	*redis.Script
	src  string
	keys []keyName
}

func newScript(keys []keyName, body string) script {
	src := prelude(keys) + body
	return script{Script: redis.NewScript(src), src: src, keys: keys}
}

// prelude defines K (the script's keys by name), ST (the states) and OUT
// (the outcome codes of completeScript) from the Go constants.
func prelude(keys []keyName) string {
	var b strings.Builder
	b.WriteString("local K = {")
	for n, k := range keys {
		fmt.Fprintf(&b, "%s = KEYS[%d], ", k, n+1)
	}
	fmt.Fprintf(&b, "}\nlocal ST = {queued = '%s', inflight = '%s', full = '%s', offered = '%s', enrolled = '%s'}\n",
		stQueued, stInFlight, stFull, stOffered, stEnrolled)
	fmt.Fprintf(&b, "local OUT = {granted = '%s', already = '%s', full = '%s', unknown = '%s'}\n",
		outcomeGranted, outcomeAlreadyEnrolled, outcomeFull, outcomeUnknown)
	return b.String()
}

// Outcome codes of completeScript's ARGV.
const (
	outcomeGranted         = "g"
	outcomeAlreadyEnrolled = "a"
	outcomeFull            = "f"
	outcomeUnknown         = "u"
)

// stateReply is the tail shared by the join and status scripts: it answers
// {state, ticket, position} for student ARGV[1] in state s, with the keys in
// table K. Position counts the queued students ahead (in flight or not), not
// the waiting-list students in flight (fi of them, the lowest tickets).
const stateReply = `
local t = redis.call('HGET', K.tk, ARGV[1]) or ''
local fi = tonumber(redis.call('GET', K.fi) or '0')
local pos = 0
if s == ST.queued then
  pos = redis.call('ZCARD', K.i) - fi + redis.call('ZRANK', K.q, ARGV[1]) + 1
elseif s == ST.inflight then
  pos = redis.call('ZRANK', K.i, ARGV[1]) - fi + 1
end
if pos < 1 and (s == ST.queued or s == ST.inflight) then pos = 1 end
return {s, t, pos}
`

// nextTicket defines next(seq, hi): the next ticket or token. If the counter
// came back lower than a ticket already issued (Redis rolled back by a
// failover with replication lag or a restore, or the key was overwritten),
// it is raised past the highest one first, so no ticket ever repeats.
const nextTicket = `
local function next(seq, hi)
  local t = redis.call('INCR', seq)
  local h = tonumber(redis.call('GET', hi) or '0')
  if t <= h then
    t = h + 1
    redis.call('SET', seq, string.format('%.0f', t))
  end
  local ts = string.format('%.0f', t)
  redis.call('SET', hi, ts)
  return ts
end
`

// joinScript ARGV: student
//
// A course known to be full (a waiting list, no seat freed since it was last
// offered, nobody queued or in flight, no data loss) puts a new student
// straight on the waiting list: that is what the next take would do with
// them (takeScript's "moved"), so the join answers full at once. With anyone
// queued or in flight the student queues as usual, so that no lower ticket
// can end up behind them.
var joinScript = newScript([]keyName{keySeq, keyState, keyTicket, keyQueue, keyInFlight, keyFromFull, keyHi, keyFull, keyFreed, keyLost, keyLease}, nextTicket+`
local s = redis.call('HGET', K.st, ARGV[1])
if not s then
  if redis.call('EXISTS', K.seq) == 0 then return {'noseq', '', 0} end
  local t = next(K.seq, K.hi)
  redis.call('HSET', K.tk, ARGV[1], t)
  if redis.call('ZCARD', K.f) > 0 and redis.call('ZCARD', K.q) == 0 and redis.call('ZCARD', K.i) == 0
    and redis.call('EXISTS', K.freed) == 0 and redis.call('EXISTS', K.lost) == 0 and redis.call('EXISTS', K.lease) == 0 then
    redis.call('HSET', K.st, ARGV[1], ST.full)
    redis.call('ZADD', K.f, t, ARGV[1])
    s = ST.full
  else
    redis.call('HSET', K.st, ARGV[1], ST.queued)
    redis.call('ZADD', K.q, t, ARGV[1])
    s = ST.queued
  end
end
`+stateReply)

// statusScript ARGV: student
var statusScript = newScript([]keyName{keyState, keyTicket, keyQueue, keyInFlight, keyFromFull}, `
local s = redis.call('HGET', K.st, ARGV[1])
if not s then return {'', '', 0} end
`+stateReply)

// seedScript ARGV: base. Raises the counter to base if
// lower. A base past the first epoch means Redis lost the course's data:
// students may join again while holding a seat, so lost makes every batch
// go through the database (see takeScript) for this Redis lifetime.
var seedScript = newScript([]keyName{keySeq, keyLost}, `
local cur = tonumber(redis.call('GET', K.seq) or '0')
if cur < tonumber(ARGV[1]) then redis.call('SET', K.seq, ARGV[1]) end
if tonumber(ARGV[1]) > 4294967296 then redis.call('SET', K.lost, '1') end
return 1
`)

// leaveScript ARGV: student. Returns 1 if the student
// was queued, in flight or full.
var leaveScript = newScript([]keyName{keyState, keyTicket, keyQueue, keyInFlight, keyFull, keyFromFull, keyReply}, `
local done = redis.call('GET', K.rq)
if done then return tonumber(done) end
local s = redis.call('HGET', K.st, ARGV[1])
if s ~= ST.queued and s ~= ST.inflight and s ~= ST.full and s ~= ST.offered then
  redis.call('SET', K.rq, '0', 'EX', 60)
  return 0
end
if s == ST.offered and tonumber(redis.call('GET', K.fi) or '0') > 0 then redis.call('DECR', K.fi) end
redis.call('ZREM', K.q, ARGV[1])
redis.call('ZREM', K.i, ARGV[1])
redis.call('ZREM', K.f, ARGV[1])
redis.call('HDEL', K.st, ARGV[1])
redis.call('HDEL', K.tk, ARGV[1])
redis.call('SET', K.rq, '1', 'EX', 60)
return 1
`)

// cancelledScript ARGV: student.
// Called after the enrollment was deleted in PostgreSQL (or found missing):
// the student leaves every structure of the course (state none) and the
// admitter wakes so the lowest full ticket gets the seat. Clearing a queued,
// full or in-flight state too matters: a seat committed whose batch is not
// completed yet (in flight) must not turn "enrolled" in Redis afterwards (the
// completion sees another ticket and hands the seat back), and a student
// re-queued after a Redis loss who cancels the seat held from before must not
// be admitted again. Returns 1 if Redis still said enrolled.
var cancelledScript = newScript([]keyName{keyState, keyTicket, keyFreed, keyQueue, keyInFlight, keyFull, keyFromFull}, `
local s = redis.call('HGET', K.st, ARGV[1])
local was = 0
if s == ST.enrolled then was = 1 end
if s then
  if s == ST.offered and tonumber(redis.call('GET', K.fi) or '0') > 0 then redis.call('DECR', K.fi) end
  redis.call('ZREM', K.q, ARGV[1])
  redis.call('ZREM', K.i, ARGV[1])
  redis.call('ZREM', K.f, ARGV[1])
  redis.call('HDEL', K.st, ARGV[1])
  redis.call('HDEL', K.tk, ARGV[1])
end
redis.call('SET', K.freed, '1')
return was
`)

// cancelEnrolledScript ARGV: student. Called
// before the enrollment is deleted in PostgreSQL: a student Redis shows
// enrolled leaves the course's structures (state none) and the admitter
// wakes. Doing this first means that no failure after the commit can leave
// the student shown enrolled without a seat. Returns 1 if Redis said
// enrolled.
var cancelEnrolledScript = newScript([]keyName{keyState, keyTicket, keyFreed}, `
if redis.call('HGET', K.st, ARGV[1]) ~= ST.enrolled then return '' end
local t = redis.call('HGET', K.tk, ARGV[1]) or '0'
redis.call('HDEL', K.st, ARGV[1])
redis.call('HDEL', K.tk, ARGV[1])
redis.call('SET', K.freed, '1')
return t
`)

// restoreEnrolledScript ARGV: student ticket. Undoes
// cancelEnrolledScript when the delete certainly did not happen, unless the
// student did something else meanwhile.
var restoreEnrolledScript = newScript([]keyName{keyState, keyTicket}, `
if redis.call('HEXISTS', K.st, ARGV[1]) == 1 then return 0 end
redis.call('HSET', K.st, ARGV[1], ST.enrolled)
redis.call('HSET', K.tk, ARGV[1], ARGV[2])
return 1
`)

// freedScript, no ARGV: a seat of the course may have been freed.
var freedScript = newScript([]keyName{keyFreed}, `
redis.call('SET', K.freed, '1')
return 1
`)

// probeScript, no ARGV, read-only: {work, undecided, waiting}. work is 1
// when a take would not answer idle (someone queued or in flight, or a seat
// may have been freed): what admitters look for. undecided counts the
// queued and in-flight students, waiting the waiting list.
var probeScript = newScript([]keyName{keyQueue, keyInFlight, keyFull, keyFreed}, `
local q = redis.call('ZCARD', K.q)
local i = redis.call('ZCARD', K.i)
local work = 0
if q > 0 or i > 0 or redis.call('EXISTS', K.freed) == 1 then work = 1 end
return {work, q + i, redis.call('ZCARD', K.f)}
`)

// takeScript ARGV: leaseMs batch requestId
// Returns {'busy'} | {'idle'} | {'noseq'} | {'moved', n, highest ticket} |
// {'ok', token, student, ticket, ...}.
//
// The waiting list is offered only when a seat may have been freed since it
// was last offered: every path that can free a seat sets freed in the same
// script that records it (cancel, capacity up, a seat given back, a lease
// handed back or expired with waiting-list students, a batch that granted
// every seat it offered), and take consumes it here atomically. While the
// waiting list is not empty and freed is not set, the course is full: the
// queued students whose turn came are moved to the waiting list in one step,
// with no lease and no grant, so that none of them can take a seat freed in
// PostgreSQL whose freed mark is not set yet (that seat goes to the lowest
// full ticket once the mark lands). A queued student can hold a seat only
// when their grant's outcome was never recorded (a batch handed back or
// expired: freed is set, the next batch asks the database) or after a data
// loss (lost: every batch with queued students asks the database, offering
// the waiting list first as before).
var takeScript = newScript([]keyName{keySeq, keyState, keyQueue, keyInFlight, keyFull, keyLease, keyFreed, keyFromFull, keyLost, keyHi, keyLeaseRequest}, nextTicket+`
if redis.call('EXISTS', K.lease) == 1 then
  if redis.call('GET', K.leaserq) ~= ARGV[3] then return {'busy'} end
  -- A retry of the take that got the lease: the same batch again.
  local out = {'ok', redis.call('GET', K.lease)}
  local got = redis.call('ZRANGE', K.i, 0, -1, 'WITHSCORES')
  for j = 1, #got, 2 do
    out[#out+1] = got[j]
    out[#out+1] = string.format('%.0f', tonumber(got[j+1]))
  end
  return out
end
-- The previous lease expired: its students go back with their original tickets.
local back = redis.call('ZRANGE', K.i, 0, -1, 'WITHSCORES')
for j = 1, #back, 2 do
  if redis.call('HGET', K.st, back[j]) == ST.offered then
    redis.call('ZADD', K.f, back[j+1], back[j])
    redis.call('HSET', K.st, back[j], ST.full)
    -- Their seats may never have been decided: offer the list again.
    redis.call('SET', K.freed, '1')
  else
    redis.call('ZADD', K.q, back[j+1], back[j])
    redis.call('HSET', K.st, back[j], ST.queued)
    -- Their grant may have committed: the next batch must ask the database.
    redis.call('SET', K.freed, '1')
  end
end
redis.call('DEL', K.i, K.fi)
local qn = redis.call('ZCARD', K.q)
local fn = redis.call('ZCARD', K.f)
local freed = redis.call('EXISTS', K.freed) == 1 or (qn > 0 and redis.call('EXISTS', K.lost) == 1)
local n = tonumber(ARGV[2])
if (qn == 0 and fn == 0) or (qn == 0 and not freed) then
  redis.call('DEL', K.freed)
  return {'idle'}
end
if fn > 0 and not freed then
  -- Known full, no seat freed: one step per batch, the list is not re-offered.
  local got = redis.call('ZRANGE', K.q, 0, n - 1, 'WITHSCORES')
  for j = 1, #got, 2 do
    redis.call('ZREM', K.q, got[j])
    redis.call('ZADD', K.f, got[j+1], got[j])
    redis.call('HSET', K.st, got[j], ST.full)
  end
  -- The highest ticket moved: every ticket up to it is decided now.
  local through = '0'
  if #got > 0 then through = string.format('%.0f', tonumber(got[#got])) end
  return {'moved', #got / 2, through}
end
if redis.call('EXISTS', K.seq) == 0 then return {'noseq'} end
local token = next(K.seq, K.hi)
redis.call('SET', K.lease, token, 'PX', ARGV[1])
redis.call('SET', K.leaserq, ARGV[3], 'PX', ARGV[1])
redis.call('DEL', K.freed)
local out = {'ok', token}
local function take(key, state)
  local got = redis.call('ZRANGE', key, 0, n - 1, 'WITHSCORES')
  for j = 1, #got, 2 do
    local t = string.format('%.0f', tonumber(got[j+1]))
    redis.call('ZREM', key, got[j])
    redis.call('ZADD', K.i, t, got[j])
    redis.call('HSET', K.st, got[j], state)
    out[#out+1] = got[j]
    out[#out+1] = t
  end
  return #got / 2
end
-- Waiting-list tickets are all lower than queued ones: offer them first, and
-- queued students only in a batch that offers the whole waiting list (the
-- grant follows the batch order, so no queued student can pass a lower full
-- ticket left for a later batch).
if fn > 0 then
  local nf = take(K.f, ST.offered)
  if nf > 0 then redis.call('SET', K.fi, nf) end
end
if fn <= n then take(K.q, ST.inflight) end
return out
`)

// completeScript ARGV: token then
// (kind student ticket)* with kind g granted, a already enrolled, f full,
// u unknown. Grants are always recorded (PostgreSQL is the truth); the other
// outcomes only by the lease owner. Returns the granted students who left
// the queue meanwhile: their seat must be given back, and the lease is kept
// for that (the caller releases it afterwards).
var completeScript = newScript([]keyName{keyState, keyTicket, keyQueue, keyInFlight, keyFull, keyLease, keyFromFull, keyFreed, keyReply}, `
local done = redis.call('GET', K.rq)
if done then return cjson.decode(done) end
local owner = redis.call('GET', K.lease) == ARGV[1]
local left = {}
local granted, full = false, false
for j = 2, #ARGV, 3 do
  local kind, s, t = ARGV[j], ARGV[j+1], ARGV[j+2]
  if kind == OUT.granted then granted = true elseif kind == OUT.full then full = true end
  local st = redis.call('HGET', K.st, s)
  local same = st and redis.call('HGET', K.tk, s) == t
  if kind == OUT.granted or kind == OUT.already then
    if same then
      if st ~= ST.enrolled then
        redis.call('HSET', K.st, s, ST.enrolled)
        redis.call('ZREM', K.q, s)
        redis.call('ZREM', K.i, s)
        redis.call('ZREM', K.f, s)
      end
    elseif kind == OUT.granted and owner then
      -- Only the lease owner can tell "left" from "Redis lost its data"
      -- (a restart also drops the lease): never give back a seat otherwise.
      left[#left+1] = s
    end
  elseif owner and same and (st == ST.inflight or st == ST.offered) then
    redis.call('ZREM', K.i, s)
    if kind == OUT.full then
      redis.call('HSET', K.st, s, ST.full)
      redis.call('ZADD', K.f, t, s)
    else
      redis.call('HDEL', K.st, s)
      redis.call('HDEL', K.tk, s)
    end
  end
end
if owner then
  local fi = tonumber(redis.call('GET', K.fi) or '0')
  redis.call('DEL', K.fi)
  -- Seats to give back: the lease stays until they are (Release), so that
  -- no other batch can find those students enrolled in between.
  if #left == 0 then redis.call('DEL', K.lease) end
  -- Every seat offered was granted and nobody found the course full: seats
  -- may be left for the rest of the waiting list.
  if fi > 0 and granted and not full and redis.call('ZCARD', K.f) > 0 then
    redis.call('SET', K.freed, '1')
  end
end
redis.call('SET', K.rq, cjson.encode(left), 'EX', 60)
return left
`)

// releaseScript ARGV: token. Hands a lease
// back: its in-flight students return where they came from (queue or waiting
// list) with their original tickets and mark the course freed (their seats
// were never decided, or a grant may have committed).
var releaseScript = newScript([]keyName{keyState, keyQueue, keyInFlight, keyLease, keyFull, keyFromFull, keyFreed}, `
if redis.call('GET', K.lease) ~= ARGV[1] then return 0 end
local back = redis.call('ZRANGE', K.i, 0, -1, 'WITHSCORES')
for j = 1, #back, 2 do
  if redis.call('HGET', K.st, back[j]) == ST.offered then
    redis.call('ZADD', K.f, back[j+1], back[j])
    redis.call('HSET', K.st, back[j], ST.full)
    redis.call('SET', K.freed, '1')
  else
    redis.call('ZADD', K.q, back[j+1], back[j])
    redis.call('HSET', K.st, back[j], ST.queued)
    redis.call('SET', K.freed, '1')
  end
end
redis.call('DEL', K.i, K.lease, K.fi)
return 1
`)

// decidedScript, no ARGV: the highest ticket such that every ticket at or
// below it was decided (enrolled, on the waiting list, or gone); an empty
// string when the course has no ticket counter. A ticket is issued (INCR
// seq) and queued in one script, so every issued ticket neither queued nor
// in flight from the queue is decided. Waiting-list students offered a freed
// seat (state offered) are in flight too, but were decided already: they are
// skipped. The in-flight set is at most one batch. With nobody undecided it
// is the counter itself, which also issues fencing tokens: no student holds
// one of those.
var decidedScript = newScript([]keyName{keySeq, keyState, keyQueue, keyInFlight}, `
local seq = redis.call('GET', K.seq)
if not seq then return '' end
local low = nil
local q = redis.call('ZRANGE', K.q, 0, 0, 'WITHSCORES')
if #q > 0 then low = tonumber(q[2]) end
local inf = redis.call('ZRANGE', K.i, 0, -1, 'WITHSCORES')
for j = 1, #inf, 2 do
  if redis.call('HGET', K.st, inf[j]) ~= ST.offered then
    local t = tonumber(inf[j+1])
    if not low or t < low then low = t end
    break
  end
end
if low then return string.format('%.0f', low - 1) end
return string.format('%.0f', tonumber(seq))
`)
