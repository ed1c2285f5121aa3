--[[
  Decide the head of a full course's queue in bulk: every request up to the first one that asked
  for the waitlist is rejected with COURSE_FULL, without a MySQL transaction. Stopping at a
  waitlist request keeps decisions in arrival order; the waitlist request goes through a batch.

  KEYS[1] lease key      lease:<course>
  KEYS[2] queue          q:<course>
  KEYS[3] live requests  live:<course>
  KEYS[4] seat cache     seats:<course>

  ARGV[1] lease token
  ARGV[2] key prefix
  ARGV[3] seconds to keep a decided request
  ARGV[4] most requests to decide in this call

  Output: -1 if the lease was lost, -2 if the cache does not say the course is full,
          else the number of requests rejected
]]
local rcall = redis.call

if rcall('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
if rcall('HGET', KEYS[4], 'left') ~= '0' then
  return -2
end

local ttl = tonumber(ARGV[3])
local ids = rcall('ZRANGE', KEYS[2], 0, tonumber(ARGV[4]) - 1)
local rejected = 0
for _, id in ipairs(ids) do
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
