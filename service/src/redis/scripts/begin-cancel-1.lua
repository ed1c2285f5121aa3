--[[
  Announce a cancellation before it commits in MySQL. While the mark lives, the seat cache may be
  about to change: the door does not answer COURSE_FULL from it and bulk rejection waits. The mark
  expires by itself, so a canceller that dies before it can remove the mark blocks nothing for long.

  KEYS[1] cancellations  cancelling:<course>  (sorted set: cancellation id scored by expiry ms)

  ARGV[1] cancellation id
  ARGV[2] lifetime in milliseconds (longer than the cancellation can take)

  Output: 1
]]
local rcall = redis.call

local now = rcall('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local ttl = tonumber(ARGV[2])
rcall('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowMs)
rcall('ZADD', KEYS[1], nowMs + ttl, ARGV[1])
rcall('PEXPIRE', KEYS[1], ttl)
return 1
