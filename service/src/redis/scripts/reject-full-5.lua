--[[
  Decide the head of a full course's queue in bulk: every request up to the first one that asked
  for the waitlist is rejected with COURSE_FULL, without a MySQL transaction. Stopping at a
  waitlist request keeps decisions in arrival order; the waitlist request goes through a batch.

  Bulk rejection must never contradict MySQL, so it also stops at the first request whose
  arrival number is at or below the course's decided-through mark: MySQL may hold an enrollment
  or a waitlist place for it (a worker committed it and died before telling Redis), and only a
  batch, which reads MySQL, may answer it. And it does nothing while a cancellation of the course
  is in flight: a seat may be about to come free.

  KEYS[1] lease key      lease:<course>
  KEYS[2] queue          q:<course>
  KEYS[3] live requests  live:<course>
  KEYS[4] seat cache     seats:<course>
  KEYS[5] cancellations  cancelling:<course>   (sorted set: cancellation id scored by expiry ms)

  ARGV[1] lease token
  ARGV[2] key prefix
  ARGV[3] seconds to keep a decided request
  ARGV[4] most requests to decide in this call
  ARGV[5] decided-through arrival number, as read from MySQL under the course lock

  Output: -1 if the lease was lost, -2 if the course is not known to be full,
          else the number of requests rejected (0 when the head must go through a batch)
]]
local rcall = redis.call

if rcall('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
if rcall('HGET', KEYS[4], 'left') ~= '0' then
  return -2
end
local now = rcall('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if rcall('ZCOUNT', KEYS[5], '(' .. nowMs, '+inf') > 0 then
  return -2
end

local ttl = tonumber(ARGV[3])
local through = tonumber(ARGV[5])
local ids = rcall('ZRANGE', KEYS[2], 0, tonumber(ARGV[4]) - 1, 'WITHSCORES')
local rejected = 0
for i = 1, #ids, 2 do
  local id = ids[i]
  if tonumber(ids[i + 1]) <= through then
    break
  end
  local key = ARGV[2] .. 'req:' .. id
  local fields = rcall('HMGET', key, 's', 'w')
  if fields[2] == '1' then
    break
  end
  rcall('ZREM', KEYS[2], id)
  if fields[1] then
    rcall('HSET', key, 'st', 'rejected', 'r', 'COURSE_FULL')
    rcall('EXPIRE', key, ttl)
    if rcall('HGET', KEYS[3], fields[1]) == id then
      rcall('HDEL', KEYS[3], fields[1])
    end
  end
  rejected = rejected + 1
end
return rejected
