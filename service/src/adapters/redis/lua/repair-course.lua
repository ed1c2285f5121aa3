--[[
  Repair one course's seat cache and live markers from a consistent MySQL snapshot. Runs when the
  cache is older than MySQL for longer than a write after a COMMIT normally takes (that write
  failed, or its instance died). Newer state wins: if the cache already reflects a version at or
  after the snapshot's, nothing is written.

  KEYS[1] the course's live markers
  KEYS[2] the course's seat cache
  KEYS[3] the course's in-flight cancellations
  KEYS[4..] the hash of each request named in ARGV's marker pairs, in their order

  ARGV[1] course version of the snapshot
  ARGV[2] seats left in the snapshot
  ARGV[3] how many students are enrolled in the snapshot (n)
  ARGV[4 .. 3+n] those students
  ARGV[4+n ..] pairs: student, request id — enrolled students whose marker named a request when
               the caller read the markers (the request's hash is the matching key)

  Output: 1 repaired, 0 the cache was already as new
]]
--@include clock

local rcall = redis.call

local cached = tonumber(rcall('HGET', KEYS[2], 'v') or '-1')
if cached >= tonumber(ARGV[1]) then
  return 0
end
rcall('HSET', KEYS[2], 'v', ARGV[1], 'left', ARGV[2])

local n = tonumber(ARGV[3])
local enrolled = {}
for i = 4, 3 + n do
  enrolled[ARGV[i]] = true
end
-- A marker saying "enrolled" for a student who is not: the cancellation was never reflected.
local live = rcall('HGETALL', KEYS[1])
for i = 1, #live, 2 do
  if live[i + 1] == 'E' and not enrolled[live[i]] then
    rcall('HDEL', KEYS[1], live[i])
  end
end
-- An enrolled student whose marker is missing, or names a request that is no longer queued.
local seen = {}
local k = 4
for i = 4 + n, #ARGV, 2 do
  seen[ARGV[i]] = { ARGV[i + 1], KEYS[k] }
  k = k + 1
end
for i = 4, 3 + n do
  local student = ARGV[i]
  local marker = rcall('HGET', KEYS[1], student)
  if not marker then
    rcall('HSET', KEYS[1], student, 'E')
  elseif marker ~= 'E' then
    local read = seen[student]
    -- A marker that changed since the caller read it is left alone: a new request is deciding.
    if read and read[1] == marker and rcall('HGET', read[2], 'st') ~= 'queued' then
      rcall('HSET', KEYS[1], student, 'E')
    end
  end
end

rcall('ZREMRANGEBYSCORE', KEYS[3], '-inf', now_ms())
return 1
