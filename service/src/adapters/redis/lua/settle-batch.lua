--[[
  Record the decisions of a committed admission batch and refresh the seat cache.
  Runs only after the MySQL COMMIT; if it never runs (crash), the requests stay queued and the
  next lease holder finds them already decided in MySQL.

  KEYS[1] the course's lease
  KEYS[2] the course's queue
  KEYS[3] the course's live markers
  KEYS[4] the course's seat cache
  KEYS[5] the active courses
  KEYS[6] the course's count of requests let go of
  KEYS[7..] the hash of each decided request, in the order of the decisions

  ARGV[1] lease token
  ARGV[2] seconds to keep a decided request
  ARGV[3] course id
  ARGV[4] seats left after the commit
  ARGV[5] course version after the commit
  ARGV[6..] groups of four, one per decision: request id, student id, status, reason ('' if none)

  Output: -1 if the lease was lost (nothing written), else the queue length left
]]
--@include seat-cache
--@include decisions

local rcall = redis.call

if rcall('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end

local ttl = tonumber(ARGV[2])
local removed = 0
for d = 0, #KEYS - 7 do
  local i = 6 + d * 4
  removed = removed + rcall('ZREM', KEYS[2], ARGV[i])
  record_decision(KEYS[7 + d], KEYS[3], ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ttl)
end
if removed > 0 then
  rcall('INCRBY', KEYS[6], removed)
end

write_seat_cache(KEYS[4], ARGV[5], ARGV[4])

local left = rcall('ZCARD', KEYS[2])
if left == 0 then
  rcall('SREM', KEYS[5], ARGV[3])
end
return left
