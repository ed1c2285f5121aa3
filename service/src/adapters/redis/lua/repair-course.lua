--[[
  Repair one course's cache from a consistent MySQL snapshot: the seat cache and live markers,
  the waitlisted students' requests, and the waitlist mirror. Runs when the cache is older than
  MySQL for longer than a write after a COMMIT normally takes (that write failed, or its instance
  died, or a change reached the waitlist mirror out of order), and when the markers are not known
  complete (the seat cache has no 'built': Redis lost data, see includes/seat-cache.lua). Newer
  state wins: each part already at or after the snapshot's version is left as it is, and markers
  not known complete are rebuilt only from a snapshot at least as new as the seat cache.

  KEYS[1] the course's live markers
  KEYS[2] the course's seat cache
  KEYS[3] the course's in-flight cancellations
  KEYS[4] the course's waitlist mirror
  KEYS[5 .. 4+m] the hash of each waitlisted request, in the snapshot's waitlist order
  KEYS[5+m ..] the hash of each request named in ARGV's marker pairs, in their order

  ARGV[1] course version of the snapshot
  ARGV[2] seats left in the snapshot
  ARGV[3] how many students are enrolled in the snapshot (n)
  ARGV[4] how many places the snapshot's waitlist has (m)
  ARGV[5] course id
  ARGV[6] seconds to keep a decided request (a waitlisted request's hash, rebuilt)
  ARGV[7 .. 6+n] those students
  ARGV[7+n .. 6+n+3m] triples: request id, place, student — the waitlist, in its order
  ARGV[7+n+3m ..] pairs: student, request id — enrolled or waitlisted students whose marker named
                  a request when the caller read the markers (the request's hash is the matching key)

  Output: 1 repaired, 0 the cache was already as new (or newer than the snapshot, not built)
]]
--@include clock
--@include waitlist

local rcall = redis.call

local version = tonumber(ARGV[1])
local seats = rcall('HMGET', KEYS[2], 'v', 'built')
local cached = tonumber(seats[1] or '-1')
local mirrored = waitlist_version(KEYS[2])
-- Markers not known complete are all suspect, not only the changes after the cache's version.
local rebuild = not seats[2]
if rebuild then
  if cached > version then
    return 0
  end
elseif cached >= version and mirrored >= version then
  return 0
end

local n = tonumber(ARGV[3])
local m = tonumber(ARGV[4])
local first_place = 7 + n
local first_marker = 7 + n + 3 * m

if rebuild or cached < version then
  rcall('HSET', KEYS[2], 'v', ARGV[1], 'left', ARGV[2], 'built', '1')

  local enrolled = {}
  for i = 7, 6 + n do
    enrolled[ARGV[i]] = true
  end
  -- A marker saying "enrolled" for a student who is not: the cancellation was never reflected.
  local live = rcall('HGETALL', KEYS[1])
  for i = 1, #live, 2 do
    if live[i + 1] == 'E' and not enrolled[live[i]] then
      rcall('HDEL', KEYS[1], live[i])
    end
  end
  local seen = {}
  local k = 5 + m
  for i = first_marker, #ARGV, 2 do
    seen[ARGV[i]] = { ARGV[i + 1], KEYS[k] }
    k = k + 1
  end
  -- Whether a marker may be replaced: it is missing, or it names a request that is no longer
  -- queued. One that changed since the caller read it is left alone: a new request is deciding.
  local function replaceable(student, marker)
    if not marker then
      return true
    end
    local read = seen[student]
    return read and read[1] == marker and rcall('HGET', read[2], 'st') ~= 'queued'
  end
  -- An enrolled student whose marker is missing or names another request. After a loss even a
  -- queued one is overruled: the store can only turn it down, and bulk rejection must not.
  for i = 7, 6 + n do
    local student = ARGV[i]
    local marker = rcall('HGET', KEYS[1], student)
    if marker ~= 'E' and (rebuild or replaceable(student, marker)) then
      rcall('HSET', KEYS[1], student, 'E')
    end
  end
  -- A waitlisted student: their marker names their waitlisted request, whose hash says so (it
  -- expires like any decided request's). After a loss a queued request is overruled too, or bulk
  -- rejection could answer it COURSE_FULL: its batch gives it the place, and the marker with it.
  local ttl = tonumber(ARGV[6])
  for j = 0, m - 1 do
    local i = first_place + 3 * j
    local request, student = ARGV[i], ARGV[i + 2]
    local marker = rcall('HGET', KEYS[1], student)
    if marker ~= request and (rebuild or replaceable(student, marker)) then
      rcall('HSET', KEYS[1], student, request)
    end
    if rcall('EXISTS', KEYS[5 + j]) == 0 then
      rcall('HSET', KEYS[5 + j], 's', student, 'c', ARGV[5], 'w', '1', 'st', 'waitlisted')
      rcall('EXPIRE', KEYS[5 + j], ttl)
    end
  end
end

-- No change after the snapshot's version has reached the mirror (it would be at that change's
-- version), so the snapshot's waitlist replaces it whole.
if mirrored < version then
  rcall('DEL', KEYS[4])
  for i = first_place, first_marker - 1, 3 do
    rcall('ZADD', KEYS[4], ARGV[i + 1], ARGV[i])
  end
  rcall('HSET', KEYS[2], 'wv', ARGV[1])
end

rcall('ZREMRANGEBYSCORE', KEYS[3], '-inf', now_ms())
return 1
