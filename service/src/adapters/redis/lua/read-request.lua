--[[
  Read one request with its place, in one round trip: its place in the course's queue while
  queued, on the course's waitlist while waitlisted. A waitlist place is given only when the
  mirror of the waitlist can vouch for it: the mirror holds every change the seat cache has
  heard of, and no cancellation is in flight (one may have promoted or dropped heads in MySQL
  that Redis has not heard of yet). Otherwise the caller must ask MySQL.

  The course is only known from the request's hash, so this script builds the course's keys
  itself, from the affixes the key schema gives it: the request id names its course's group, so
  the course's keys share the request's slot.

  KEYS[1] the request's hash
  KEYS[2] the session, KEYS[3] the student's request counter of this window: given when the read
          is a student's status check, which is authenticated and rate-limited here, in the same
          round trip (like enqueue-request.lua) on a single Redis node; absent for the service's own
          reads, and on a cluster, where the student's keys sit in another slot

  ARGV[1] request id
  ARGV[2], ARGV[3] what comes before and after the course id in the course's queue key
  ARGV[4], ARGV[5] ... in the course's seat cache key
  ARGV[6], ARGV[7] ... in the course's in-flight cancellations key
  ARGV[8], ARGV[9] ... in the course's waitlist mirror key
  ARGV[10] student id the signed cookie names, ARGV[11] most requests per window, ARGV[12] window
           in milliseconds (with KEYS[2] and KEYS[3] only)

  Output: { code, student id, course id, status, reason, joined position, joined let-go-of, place }
    0 no such request (nothing else set)
    1 placed: queued or waitlisted, with its 1-based place
    2 no place: decided, or no longer in its queue, or not on the waitlist mirror
    3 waitlisted, and the mirror cannot vouch for a place now: ask MySQL
    4 unauthenticated (nothing else set)
    5 rate limited (place: the ms to wait; nothing else set)
]]
--@include clock
--@include fixed-window
--@include seat-cache

local rcall = redis.call

if KEYS[2] then
  if rcall('GET', KEYS[2]) ~= ARGV[10] then
    return { 4, '', '', '', '', '', '', 0 }
  end
  local wait = over_limit(KEYS[3], ARGV[11], ARGV[12])
  if wait then
    return { 5, '', '', '', '', '', '', wait }
  end
end

local f = rcall('HMGET', KEYS[1], 's', 'c', 'st', 'r', 'jp', 'jr')
if not f[1] or not f[2] or not f[3] then
  return { 0, '', '', '', '', '', '', 0 }
end
local course = f[2]
local status = f[3]
local function course_key(i)
  return ARGV[i] .. course .. ARGV[i + 1]
end

local code = 2
local place = 0
if status == 'queued' then
  local rank = rcall('ZRANK', course_key(2), ARGV[1])
  if rank then
    code = 1
    place = rank + 1
  end
elseif status == 'waitlisted' then
  local seats = rcall('HMGET', course_key(4), 'v', 'wv')
  if not seats[1] or tonumber(seats[1]) ~= tonumber(seats[2] or '-1')
      or cancellation_in_flight(course_key(6), now_ms()) then
    code = 3
  else
    local rank = rcall('ZRANK', course_key(8), ARGV[1])
    if rank then
      code = 1
      place = rank + 1
    end
  end
end
return { code, f[1], course, status, f[4] or '', f[5] or '', f[6] or '', place }
