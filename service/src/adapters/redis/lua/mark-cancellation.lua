--[[
  Announce a cancellation before it commits in MySQL. While the mark lives, the seat cache may be
  about to change: the door does not answer COURSE_FULL from it and bulk rejection waits. The mark
  expires by itself, so a canceller that dies before it can remove the mark blocks nothing for long.

  KEYS[1] the course's in-flight cancellations (sorted set: cancellation id scored by expiry ms)

  ARGV[1] cancellation id
  ARGV[2] lifetime in milliseconds (longer than the cancellation can take)

  Output: 1
]]
--@include clock

local now = now_ms()
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
