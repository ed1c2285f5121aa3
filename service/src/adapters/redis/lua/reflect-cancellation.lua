--[[
  Reflect a committed cancellation, leave or capacity change: the canceller's seat is gone (a
  capacity change has no canceller) and the waitlist heads promoted in the same MySQL transaction
  are now enrolled; waitlisted requests the rules dropped are rejected. Both leave the waitlist
  mirror. Removes the change's mark. Safe to run more than once (the service retries it when
  Redis did not answer).

  KEYS[1] the course's live markers
  KEYS[2] the course's seat cache
  KEYS[3] the course's in-flight cancellations
  KEYS[4] the course's waitlist mirror
  KEYS[5..] the hash of each promoted request, then of each dropped request, in the order of
            ARGV's groups

  ARGV[1] canceller's student id, or '' (a capacity change)
  ARGV[2] seats left after the commit
  ARGV[3] course version after the commit
  ARGV[4] seconds to keep a decided request
  ARGV[5] cancellation id (its mark is removed)
  ARGV[6] how many were promoted (n)
  ARGV[7] course version the change read
  ARGV[8..] n groups of two: student id, request id — the promoted, in the waitlist's order;
            then groups of three: request id, student id, reason — waitlisted requests dropped by
            the rules

  Output: 1
]]
--@include seat-cache
--@include decisions
--@include waitlist

local rcall = redis.call

local follows = waitlist_follows(KEYS[2], KEYS[4], ARGV[7], ARGV[3])

-- Only when this is the newest state: a later enrollment of the canceller keeps its marker.
if write_seat_cache(KEYS[2], ARGV[3], ARGV[2], ARGV[7]) and ARGV[1] ~= '' and rcall('HGET', KEYS[1], ARGV[1]) == 'E' then
  rcall('HDEL', KEYS[1], ARGV[1])
end

local ttl = tonumber(ARGV[4])
local promoted = tonumber(ARGV[6])
local k = 5
local a = 8
for _ = 1, promoted do
  local student, request = ARGV[a], ARGV[a + 1]
  if rcall('EXISTS', KEYS[k]) == 1 then
    record_decision(KEYS[k], KEYS[1], request, student, 'enrolled', '', ttl)
  else
    rcall('HSET', KEYS[1], student, 'E')
  end
  if follows then
    rcall('ZREM', KEYS[4], request)
  end
  k = k + 1
  a = a + 2
end
for i = a, #ARGV, 3 do
  -- A request whose hash has expired is not brought back to life.
  if rcall('EXISTS', KEYS[k]) == 1 then
    record_decision(KEYS[k], KEYS[1], ARGV[i], ARGV[i + 1], 'rejected', ARGV[i + 2], ttl)
  end
  if follows then
    rcall('ZREM', KEYS[4], ARGV[i])
  end
  k = k + 1
end
if follows then
  waitlist_reached(KEYS[2], ARGV[3])
end
rcall('ZREM', KEYS[3], ARGV[5])
return 1
