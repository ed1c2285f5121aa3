--[[
  Repair one course's cache from a consistent MySQL snapshot: the seat cache and live markers,
  and the waitlist mirror. Runs when the cache is older than MySQL for longer than a write after
  a COMMIT normally takes (that write failed, or its instance died, or a change reached the
  waitlist mirror out of order). Newer state wins: each part already at or after the snapshot's
  version is left as it is.

  KEYS[1] the course's live markers
  KEYS[2] the course's seat cache
  KEYS[3] the course's in-flight cancellations
  KEYS[4] the course's waitlist mirror
  KEYS[5..] the hash of each request named in ARGV's marker pairs, in their order

  ARGV[1] course version of the snapshot
  ARGV[2] seats left in the snapshot
  ARGV[3] how many students are enrolled in the snapshot (n)
  ARGV[4] how many places the snapshot's waitlist has (m)
  ARGV[5 .. 4+n] those students
  ARGV[5+n .. 4+n+2m] pairs: request id, place — the waitlist, in its order
  ARGV[5+n+2m ..] pairs: student, request id — enrolled students whose marker named a request
                  when the caller read the markers (the request's hash is the matching key)

  Output: 1 repaired, 0 the cache was already as new
]]
--@include clock
--@include waitlist

local rcall = redis.call

local version = tonumber(ARGV[1])
local cached = tonumber(rcall('HGET', KEYS[2], 'v') or '-1')
local mirrored = waitlist_version(KEYS[2])
if cached >= version and mirrored >= version then
  return 0
end

local n = tonumber(ARGV[3])
local m = tonumber(ARGV[4])
local first_marker = 5 + n + 2 * m

if cached < version then
  rcall('HSET', KEYS[2], 'v', ARGV[1], 'left', ARGV[2])

  local enrolled = {}
  for i = 5, 4 + n do
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
  local k = 5
  for i = first_marker, #ARGV, 2 do
    seen[ARGV[i]] = { ARGV[i + 1], KEYS[k] }
    k = k + 1
  end
  for i = 5, 4 + n do
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
end

-- No change after the snapshot's version has reached the mirror (it would be at that change's
-- version), so the snapshot's waitlist replaces it whole.
if mirrored < version then
  rcall('DEL', KEYS[4])
  for i = 5 + n, 4 + n + 2 * m, 2 do
    rcall('ZADD', KEYS[4], ARGV[i + 1], ARGV[i])
  end
  rcall('HSET', KEYS[2], 'wv', ARGV[1])
end

rcall('ZREMRANGEBYSCORE', KEYS[3], '-inf', now_ms())
return 1
