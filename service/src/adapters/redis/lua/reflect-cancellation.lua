--[[
  Reflect a committed cancellation: the canceller's seat is gone and, if the waitlist head was
  promoted in the same MySQL transaction, that request is now enrolled; waitlisted requests the
  rules dropped are rejected. Both leave the waitlist mirror. Removes the cancellation's mark.
  Safe to run more than once (the service retries it when Redis did not answer).

  KEYS[1] the course's live markers
  KEYS[2] the course's seat cache
  KEYS[3] the course's in-flight cancellations
  KEYS[4] the course's waitlist mirror
  KEYS[5..] the promoted request's hash (when ARGV[6] is not ''), then the hash of each dropped
            request, in the order of ARGV's groups

  ARGV[1] canceller's student id
  ARGV[2] seats left after the commit
  ARGV[3] course version after the commit
  ARGV[4] seconds to keep a decided request
  ARGV[5] cancellation id (its mark is removed)
  ARGV[6] promoted student id, or ''
  ARGV[7] promoted request id, or ''
  ARGV[8] course version the cancellation read
  ARGV[9..] groups of three: request id, student id, reason — waitlisted requests dropped by the rules

  Output: 1
]]
--@include seat-cache
--@include decisions
--@include waitlist

local rcall = redis.call

local follows = waitlist_follows(KEYS[2], KEYS[4], ARGV[8], ARGV[3])

-- Only when this is the newest state: a later enrollment of the canceller keeps its marker.
if write_seat_cache(KEYS[2], ARGV[3], ARGV[2], ARGV[8]) and rcall('HGET', KEYS[1], ARGV[1]) == 'E' then
  rcall('HDEL', KEYS[1], ARGV[1])
end

local ttl = tonumber(ARGV[4])
local k = 5
if ARGV[6] ~= '' then
  if rcall('EXISTS', KEYS[k]) == 1 then
    record_decision(KEYS[k], KEYS[1], ARGV[7], ARGV[6], 'enrolled', '', ttl)
  else
    rcall('HSET', KEYS[1], ARGV[6], 'E')
  end
  if follows then
    rcall('ZREM', KEYS[4], ARGV[7])
  end
  k = k + 1
end
for i = 9, #ARGV, 3 do
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
