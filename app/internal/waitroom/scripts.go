package waitroom

import "github.com/redis/go-redis/v9"

// Every operation on a course's waiting room is one Lua script, so Redis runs
// it atomically: no interleaving of joins, takes, completions and leaves.
//
// Per course c (keys under the room's prefix):
//   c:{c}:seq    last ticket issued (also the source of fencing tokens)
//   c:{c}:hi     highest ticket or token ever issued: a counter found at or
//                below it was rolled back (see nextTicket)
//   c:{c}:st     hash student -> state: q queued, i in flight from the queue,
//                f full, j in flight from the waiting list, e enrolled
//   c:{c}:tk     hash student -> ticket
//   c:{c}:q      zset queued students by ticket
//   c:{c}:i      zset in-flight students (taken by an admitter) by ticket
//   c:{c}:f      zset waiting list (state full) by ticket
//   c:{c}:lease  current admitter's fencing token, expires after the lease
//   c:{c}:freed  set when a seat may have been freed (cancel, capacity up,
//                a seat given back, a batch handed back or expired)
//   c:{c}:lost   set when the counter was re-seeded after a data loss
//   c:{c}:leaserq  request id of the take that holds the lease
//   c:{c}:rq:{id}  answer of a leave (by request id) or of a batch's
//                completion (rq:done:{token}), kept 60 s
//   c:{c}:fi     how many of the in-flight students came from the waiting
//                list (they are the lowest; positions do not count them)
// Shared: active (courses with work), waiting (courses with a waiting list).
//
// The client retries a command after a dropped connection or a read
// timeout although Redis may have run it already. Join, status, seed,
// cancelled, freed, release and sweep are idempotent by their state checks;
// take, leave and complete carry a request id and answer a retry as they
// answered the first run.
//
// Tickets and tokens are integers below 2^53, formatted with %.0f because
// Lua numbers are doubles and tostring would use exponent notation.

// stateReply is the tail shared by the join and status scripts: it answers
// {state, ticket, position} for student ARGV[1] in state s, with the keys in
// table K. Position counts the queued students ahead (in flight or not), not
// the waiting-list students in flight (fi of them, the lowest tickets).
const stateReply = `
local t = redis.call('HGET', K.tk, ARGV[1]) or ''
local fi = tonumber(redis.call('GET', K.fi) or '0')
local pos = 0
if s == 'q' then
  pos = redis.call('ZCARD', K.i) - fi + redis.call('ZRANK', K.q, ARGV[1]) + 1
elseif s == 'i' then
  pos = redis.call('ZRANK', K.i, ARGV[1]) - fi + 1
end
if pos < 1 and (s == 'q' or s == 'i') then pos = 1 end
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

// joinScript KEYS: seq st tk q i active fi hi; ARGV: student course
var joinScript = redis.NewScript(nextTicket + `
local K = {st = KEYS[2], tk = KEYS[3], q = KEYS[4], i = KEYS[5], fi = KEYS[7]}
local s = redis.call('HGET', K.st, ARGV[1])
if not s then
  if redis.call('EXISTS', KEYS[1]) == 0 then return {'noseq', '', 0} end
  local t = next(KEYS[1], KEYS[8])
  redis.call('HSET', K.st, ARGV[1], 'q')
  redis.call('HSET', K.tk, ARGV[1], t)
  redis.call('ZADD', K.q, t, ARGV[1])
  redis.call('SADD', KEYS[6], ARGV[2])
  s = 'q'
end
` + stateReply)

// statusScript KEYS: st tk q i fi; ARGV: student
var statusScript = redis.NewScript(`
local K = {st = KEYS[1], tk = KEYS[2], q = KEYS[3], i = KEYS[4], fi = KEYS[5]}
local s = redis.call('HGET', K.st, ARGV[1])
if not s then return {'', '', 0} end
` + stateReply)

// seedScript KEYS: seq lost; ARGV: base. Raises the counter to base if
// lower. A base past the first epoch means Redis lost the course's data:
// students may join again while holding a seat, so lost makes every batch
// go through the database (see takeScript) for this Redis lifetime.
var seedScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
if tonumber(ARGV[1]) > 4294967296 then redis.call('SET', KEYS[2], '1') end
return 1
`)

// leaveScript KEYS: st tk q i f fi rq; ARGV: student. Returns 1 if the student
// was queued, in flight or full.
var leaveScript = redis.NewScript(`
local done = redis.call('GET', KEYS[7])
if done then return tonumber(done) end
local s = redis.call('HGET', KEYS[1], ARGV[1])
if s ~= 'q' and s ~= 'i' and s ~= 'f' and s ~= 'j' then
  redis.call('SET', KEYS[7], '0', 'EX', 60)
  return 0
end
if s == 'j' and tonumber(redis.call('GET', KEYS[6]) or '0') > 0 then redis.call('DECR', KEYS[6]) end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SET', KEYS[7], '1', 'EX', 60)
return 1
`)

// cancelledScript KEYS: st tk freed active q i f fi; ARGV: student course.
// Called after the enrollment was deleted in PostgreSQL (or found missing):
// the student leaves every structure of the course (state none) and the
// admitter wakes so the lowest full ticket gets the seat. Clearing a queued,
// full or in-flight state too matters: a seat committed whose batch is not
// completed yet (in flight) must not turn "enrolled" in Redis afterwards (the
// completion sees another ticket and hands the seat back), and a student
// re-queued after a Redis loss who cancels the seat held from before must not
// be admitted again. Returns 1 if Redis still said enrolled.
var cancelledScript = redis.NewScript(`
local s = redis.call('HGET', KEYS[1], ARGV[1])
local was = 0
if s == 'e' then was = 1 end
if s then
  if s == 'j' and tonumber(redis.call('GET', KEYS[8]) or '0') > 0 then redis.call('DECR', KEYS[8]) end
  redis.call('ZREM', KEYS[5], ARGV[1])
  redis.call('ZREM', KEYS[6], ARGV[1])
  redis.call('ZREM', KEYS[7], ARGV[1])
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
redis.call('SET', KEYS[3], '1')
redis.call('SADD', KEYS[4], ARGV[2])
return was
`)

// cancelEnrolledScript KEYS: st tk freed active; ARGV: student course. Called
// before the enrollment is deleted in PostgreSQL: a student Redis shows
// enrolled leaves the course's structures (state none) and the admitter
// wakes. Doing this first means that no failure after the commit can leave
// the student shown enrolled without a seat. Returns 1 if Redis said
// enrolled.
var cancelEnrolledScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= 'e' then return '' end
local t = redis.call('HGET', KEYS[2], ARGV[1]) or '0'
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], '1')
redis.call('SADD', KEYS[4], ARGV[2])
return t
`)

// restoreEnrolledScript KEYS: st tk; ARGV: student ticket. Undoes
// cancelEnrolledScript when the delete certainly did not happen, unless the
// student did something else meanwhile.
var restoreEnrolledScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], 'e')
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
`)

// freedScript KEYS: freed active; ARGV: course.
var freedScript = redis.NewScript(`
redis.call('SET', KEYS[1], '1')
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`)

// takeScript KEYS: seq st tk q i f lease freed active fi waiting lost hi leaserq;
// ARGV: leaseMs batch course requestId
// Returns {'busy'} | {'idle'} | {'noseq'} | {'moved', n} |
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
var takeScript = redis.NewScript(nextTicket + `
if redis.call('EXISTS', KEYS[7]) == 1 then
  if redis.call('GET', KEYS[14]) ~= ARGV[4] then return {'busy'} end
  -- A retry of the take that got the lease: the same batch again.
  local out = {'ok', redis.call('GET', KEYS[7])}
  local got = redis.call('ZRANGE', KEYS[5], 0, -1, 'WITHSCORES')
  for j = 1, #got, 2 do
    out[#out+1] = got[j]
    out[#out+1] = string.format('%.0f', tonumber(got[j+1]))
  end
  return out
end
-- The previous lease expired: its students go back with their original tickets.
local back = redis.call('ZRANGE', KEYS[5], 0, -1, 'WITHSCORES')
for j = 1, #back, 2 do
  if redis.call('HGET', KEYS[2], back[j]) == 'j' then
    redis.call('ZADD', KEYS[6], back[j+1], back[j])
    redis.call('HSET', KEYS[2], back[j], 'f')
    -- Their seats may never have been decided: offer the list again.
    redis.call('SET', KEYS[8], '1')
  else
    redis.call('ZADD', KEYS[4], back[j+1], back[j])
    redis.call('HSET', KEYS[2], back[j], 'q')
    -- Their grant may have committed: the next batch must ask the database.
    redis.call('SET', KEYS[8], '1')
  end
end
redis.call('DEL', KEYS[5], KEYS[10])
local qn = redis.call('ZCARD', KEYS[4])
local fn = redis.call('ZCARD', KEYS[6])
local freed = redis.call('EXISTS', KEYS[8]) == 1 or (qn > 0 and redis.call('EXISTS', KEYS[12]) == 1)
local n = tonumber(ARGV[2])
if (qn == 0 and fn == 0) or (qn == 0 and not freed) then
  redis.call('DEL', KEYS[8])
  redis.call('SREM', KEYS[9], ARGV[3])
  return {'idle'}
end
if fn > 0 and not freed then
  -- Known full, no seat freed: one step per batch, the list is not re-offered.
  local got = redis.call('ZRANGE', KEYS[4], 0, n - 1, 'WITHSCORES')
  for j = 1, #got, 2 do
    redis.call('ZREM', KEYS[4], got[j])
    redis.call('ZADD', KEYS[6], got[j+1], got[j])
    redis.call('HSET', KEYS[2], got[j], 'f')
  end
  redis.call('SADD', KEYS[11], ARGV[3])
  return {'moved', #got / 2}
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'noseq'} end
local token = next(KEYS[1], KEYS[13])
redis.call('SET', KEYS[7], token, 'PX', ARGV[1])
redis.call('SET', KEYS[14], ARGV[4], 'PX', ARGV[1])
redis.call('DEL', KEYS[8])
local out = {'ok', token}
local function take(key, state)
  local got = redis.call('ZRANGE', key, 0, n - 1, 'WITHSCORES')
  for j = 1, #got, 2 do
    local t = string.format('%.0f', tonumber(got[j+1]))
    redis.call('ZREM', key, got[j])
    redis.call('ZADD', KEYS[5], t, got[j])
    redis.call('HSET', KEYS[2], got[j], state)
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
  local nf = take(KEYS[6], 'j')
  if nf > 0 then redis.call('SET', KEYS[10], nf) end
end
if fn <= n then take(KEYS[4], 'i') end
return out
`)

// completeScript KEYS: st tk q i f lease waiting fi freed active rq; ARGV: token course then
// (kind student ticket)* with kind g granted, a already enrolled, f full,
// u unknown. Grants are always recorded (PostgreSQL is the truth); the other
// outcomes only by the lease owner. Returns the granted students who left
// the queue meanwhile: their seat must be given back, and the lease is kept
// for that (the caller releases it afterwards).
var completeScript = redis.NewScript(`
local done = redis.call('GET', KEYS[11])
if done then return cjson.decode(done) end
local owner = redis.call('GET', KEYS[6]) == ARGV[1]
local left = {}
local granted, full = false, false
for j = 3, #ARGV, 3 do
  local kind, s, t = ARGV[j], ARGV[j+1], ARGV[j+2]
  if kind == 'g' then granted = true elseif kind == 'f' then full = true end
  local st = redis.call('HGET', KEYS[1], s)
  local same = st and redis.call('HGET', KEYS[2], s) == t
  if kind == 'g' or kind == 'a' then
    if same then
      if st ~= 'e' then
        redis.call('HSET', KEYS[1], s, 'e')
        redis.call('ZREM', KEYS[3], s)
        redis.call('ZREM', KEYS[4], s)
        redis.call('ZREM', KEYS[5], s)
      end
    elseif kind == 'g' and owner then
      -- Only the lease owner can tell "left" from "Redis lost its data"
      -- (a restart also drops the lease): never give back a seat otherwise.
      left[#left+1] = s
    end
  elseif owner and same and (st == 'i' or st == 'j') then
    redis.call('ZREM', KEYS[4], s)
    if kind == 'f' then
      redis.call('HSET', KEYS[1], s, 'f')
      redis.call('ZADD', KEYS[5], t, s)
    else
      redis.call('HDEL', KEYS[1], s)
      redis.call('HDEL', KEYS[2], s)
    end
  end
end
if owner then
  local fi = tonumber(redis.call('GET', KEYS[8]) or '0')
  redis.call('DEL', KEYS[8])
  -- Seats to give back: the lease stays until they are (Release), so that
  -- no other batch can find those students enrolled in between.
  if #left == 0 then redis.call('DEL', KEYS[6]) end
  if redis.call('ZCARD', KEYS[5]) > 0 then
    -- Every seat offered was granted and nobody found the course full: seats
    -- may be left for the rest of the waiting list.
    if fi > 0 and granted and not full then
      redis.call('SET', KEYS[9], '1')
      redis.call('SADD', KEYS[10], ARGV[2])
    end
    redis.call('SADD', KEYS[7], ARGV[2])
  else
    redis.call('SREM', KEYS[7], ARGV[2])
  end
end
redis.call('SET', KEYS[11], cjson.encode(left), 'EX', 60)
return left
`)

// releaseScript KEYS: st q i lease f fi freed; ARGV: token. Hands a lease
// back: its in-flight students return where they came from (queue or waiting
// list) with their original tickets and mark the course freed (their seats
// were never decided, or a grant may have committed).
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return 0 end
local back = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
for j = 1, #back, 2 do
  if redis.call('HGET', KEYS[1], back[j]) == 'j' then
    redis.call('ZADD', KEYS[5], back[j+1], back[j])
    redis.call('HSET', KEYS[1], back[j], 'f')
    redis.call('SET', KEYS[7], '1')
  else
    redis.call('ZADD', KEYS[2], back[j+1], back[j])
    redis.call('HSET', KEYS[1], back[j], 'q')
    redis.call('SET', KEYS[7], '1')
  end
end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[6])
return 1
`)

// sweepScript KEYS: active; ARGV: prefix then courses. Marks the courses
// (which have a waiting list and a free seat in PostgreSQL) as freed: a
// safety net for a wake-up lost because Redis failed, lost its data or was
// unreachable right after a seat was freed in the database.
var sweepScript = redis.NewScript(`
for j = 2, #ARGV do
  redis.call('SET', ARGV[1] .. 'c:' .. ARGV[j] .. ':freed', '1')
  redis.call('SADD', KEYS[1], ARGV[j])
end
return #ARGV - 1
`)
