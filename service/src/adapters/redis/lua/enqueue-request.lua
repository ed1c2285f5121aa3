--[[
  Join a course's waiting queue: (authenticate, rate-limit and) enqueue in one round trip.

  KEYS[1] the course's live markers  (hash: student -> request id, or 'E' once enrolled)
  KEYS[2] the course's queue         (sorted set: request id scored by arrival number)
  KEYS[3] the course's seat cache
  KEYS[4] the course's arrival counter (INCR: fair across instances, no clocks)
  KEYS[5] the active courses of the course's group (courses whose queue may be non-empty)
  KEYS[6] the new request's hash
  KEYS[7] the course's in-flight cancellations
  KEYS[8] the course's count of requests let go of (decided or dropped)
  KEYS[9] the session, KEYS[10] the student's request counter of this window: given on a single
          Redis node, where the student is authenticated and rate-limited in the same round trip;
          absent on a cluster, where they sit in the student's slot and are checked before this

  ARGV[1] student id
  ARGV[2] new request id
  ARGV[3] course id
  ARGV[4] waitlist wanted: '1' or '0'
  ARGV[5] request key prefix of the course: the student's existing request is only known here,
          and must be read in the same round trip (the one key this script derives itself)
  ARGV[6] '1': refuse instead of queueing while the seat cache says full and no cancellation
          is in flight
  ARGV[7] most requests per window, ARGV[8] window in milliseconds (with KEYS[9] and KEYS[10])

  Output: { code, request id, status, position, queue length, retry-after ms }
    0 created (queued)          1 the student's live request (status as stored)
    2 unauthenticated           3 rate limited (retry-after ms set)
    4 course known to be full   5 already enrolled

  The refusal as full reads the seat cache's 'left' and 'built' in one command (see
  includes/seat-cache.lua): a course whose markers were lost is not refused at the door.
]]
--@include clock
--@include fixed-window
--@include seat-cache

local rcall = redis.call

if KEYS[9] then
  if rcall('GET', KEYS[9]) ~= ARGV[1] then
    return { 2, '', '', 0, 0, 0 }
  end
  local wait = over_limit(KEYS[10], ARGV[7], ARGV[8])
  if wait then
    return { 3, '', '', 0, 0, wait }
  end
end

local live = rcall('HGET', KEYS[1], ARGV[1])
if live == 'E' then
  return { 5, '', '', 0, 0, 0 }
end
-- Whether the student may hold something here that only MySQL knows of.
local unsure = false
if live then
  local status = rcall('HGET', ARGV[5] .. live, 'st')
  if status == 'queued' then
    local rank = rcall('ZRANK', KEYS[2], live)
    if rank then
      return { 1, live, status, rank + 1, rcall('ZCARD', KEYS[2]), 0 }
    end
  elseif status == 'waitlisted' then
    return { 1, live, status, 0, rcall('ZCARD', KEYS[2]), 0 }
  elseif not status then
    -- Its hash has expired (a waitlist place outlives it) or was lost: a batch asks MySQL.
    unsure = true
  end
  -- The request it pointed at was decided or has expired: the student may ask again.
end

-- Known full, and no cancellation in flight that may be freeing a seat: refuse at the door. Only
-- while the markers are complete: otherwise a student without one may be enrolled or waiting.
if ARGV[6] == '1' and not unsure and trusted_seats_left(KEYS[3]) == '0'
    and not cancellation_in_flight(KEYS[7], now_ms()) then
  return { 4, '', '', 0, 0, 0 }
end

local seq = rcall('INCR', KEYS[4])
rcall('ZADD', KEYS[2], seq, ARGV[2])
-- The arrival number is the largest so far, so this request is last in its queue.
local length = rcall('ZCARD', KEYS[2])
-- Where it joined (jp) and how many the queue had let go of then (jr): its place later is
-- jp - (let go of now - jr), without a command per waiting student.
-- t: when it joined, on Redis's clock (ms): the fairness record orders arrivals numbered after a
-- loss of Redis's data, when the counter starts again, by it.
rcall('HSET', KEYS[6], 's', ARGV[1], 'c', ARGV[3], 'q', seq, 'w', ARGV[4], 'st', 'queued',
  'jp', length, 'jr', rcall('GET', KEYS[8]) or '0', 't', now_ms())
rcall('HSET', KEYS[1], ARGV[1], ARGV[2])
if length == 1 then
  -- The queue was empty: make it visible to the workers (they drop it once it drains).
  rcall('SADD', KEYS[5], ARGV[3])
end
return { 0, ARGV[2], 'queued', length, length, 0 }
