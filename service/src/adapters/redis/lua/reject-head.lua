--[[
  Reject requests at the head of a full course's queue without a MySQL transaction. Which
  requests may be rejected this way, and why, is decided by the caller (domain/rules.ts:
  bulkRejections); this script only refuses to act on a cache that cannot support it: the
  caller must still hold the lease, the seat cache must still say the course is full, and no
  cancellation may be in flight (a seat may be about to come free). It stops at the first
  request that is no longer queued, or whose student's marker no longer names it: the caller
  read the markers earlier, and a rebuild after a loss of Redis data may since have learned
  that the student is enrolled or waitlisted (then only a batch, reading MySQL, may answer).

  KEYS[1] the course's lease
  KEYS[2] the course's queue
  KEYS[3] the course's live markers
  KEYS[4] the course's seat cache
  KEYS[5] the course's in-flight cancellations
  KEYS[6] the course's count of requests let go of
  KEYS[7..] the hash of each request to reject, in queue order

  ARGV[1] lease token
  ARGV[2] seconds to keep a decided request
  ARGV[3..] groups of three, one per request: request id, student id, reason

  Output: -1 if the lease was lost, -2 if the course is not known to be full right now (or its
          markers are not known complete: after a loss of Redis data, until it is rebuilt),
          else the number of requests rejected
]]
--@include clock
--@include seat-cache
--@include decisions

local rcall = redis.call

if rcall('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
if trusted_seats_left(KEYS[4]) ~= '0' or cancellation_in_flight(KEYS[5], now_ms()) then
  return -2
end

local ttl = tonumber(ARGV[2])
local rejected = 0
for d = 0, #KEYS - 7 do
  local i = 3 + d * 3
  if rcall('HGET', KEYS[3], ARGV[i + 1]) ~= ARGV[i] or rcall('ZREM', KEYS[2], ARGV[i]) == 0 then
    break
  end
  record_decision(KEYS[7 + d], KEYS[3], ARGV[i], ARGV[i + 1], 'rejected', ARGV[i + 2], ttl)
  rejected = rejected + 1
end
if rejected > 0 then
  rcall('INCRBY', KEYS[6], rejected)
end
return rejected
