--[[
  Repair one course's seat cache and live markers from a consistent MySQL snapshot. Runs when the
  cache is older than MySQL for longer than a write after a COMMIT normally takes (that write
  failed, or its instance died). Newer state wins: if the cache already reflects a version at or
  after the snapshot's, nothing is written.

  KEYS[1] live requests  live:<course>   (hash: student -> request id, or 'E' once enrolled)
  KEYS[2] seat cache     seats:<course>  (hash: v = course version, left = seats left)
  KEYS[3] cancellations  cancelling:<course>

  ARGV[1] course version of the snapshot
  ARGV[2] seats left in the snapshot
  ARGV[3] key prefix
  ARGV[4..] the students enrolled in the course in the snapshot

  Output: 1 repaired, 0 the cache was already as new
]]
local rcall = redis.call

local version = tonumber(ARGV[1])
local cached = tonumber(rcall('HGET', KEYS[2], 'v') or '-1')
if cached >= version then
  return 0
end
rcall('HSET', KEYS[2], 'v', version, 'left', ARGV[2])

local enrolled = {}
for i = 4, #ARGV do
  enrolled[ARGV[i]] = true
end
-- A marker saying "enrolled" for a student who is not: the cancellation was never reflected.
local live = rcall('HGETALL', KEYS[1])
for i = 1, #live, 2 do
  if live[i + 1] == 'E' and not enrolled[live[i]] then
    rcall('HDEL', KEYS[1], live[i])
  end
end
-- An enrolled student whose marker is missing or points at a request that is no longer queued.
for i = 4, #ARGV do
  local marker = rcall('HGET', KEYS[1], ARGV[i])
  if marker ~= 'E' then
    if not marker or rcall('HGET', ARGV[3] .. 'req:' .. marker, 'st') ~= 'queued' then
      rcall('HSET', KEYS[1], ARGV[i], 'E')
    end
  end
end

local now = rcall('TIME')
rcall('ZREMRANGEBYSCORE', KEYS[3], '-inf', tonumber(now[1]) * 1000)
return 1
