--[[
  Record the decisions of a committed admission batch and refresh the seat cache and the
  course's waitlist mirror.
  Runs only after the MySQL COMMIT; if it never runs (crash), the requests stay queued and the
  next lease holder finds them already decided in MySQL.

  KEYS[1] the course's lease
  KEYS[2] the course's queue
  KEYS[3] the course's live markers
  KEYS[4] the course's seat cache
  KEYS[5] the active courses of the course's group
  KEYS[6] the course's count of requests let go of
  KEYS[7] the course's waitlist mirror
  KEYS[8..] the hash of each decided request, in the order of the decisions

  ARGV[1] lease token
  ARGV[2] seconds to keep a decided request
  ARGV[3] course id
  ARGV[4] seats left after the commit
  ARGV[5] course version after the commit
  ARGV[6] course version the batch read (equal to ARGV[5] when it wrote no row)
  ARGV[7..] groups of four, one per decision: request id, student id, status, and the reason of
            a rejection or the place of a waitlisted request ('' if none)

  Output: -1 if the lease was lost (nothing written), else the queue length left
]]
--@include seat-cache
--@include decisions
--@include waitlist

local rcall = redis.call

if rcall('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end

local ttl = tonumber(ARGV[2])
local follows = waitlist_follows(KEYS[4], KEYS[7], ARGV[6], ARGV[5])
local unplaced = false
-- The batch's queue entries and markers are written with one command each, not one per decision.
local decided = {}
local markers = {}
for d = 0, #KEYS - 8 do
  local i = 7 + d * 4
  local status = ARGV[i + 2]
  decided[#decided + 1] = ARGV[i]
  if status == 'waitlisted' then
    record_request_decision(KEYS[8 + d], status, '', ttl)
    if ARGV[i + 3] == '' then
      unplaced = true
    elseif follows then
      place_on_waitlist(KEYS[7], ARGV[i], ARGV[i + 3])
    end
  else
    record_request_decision(KEYS[8 + d], status, ARGV[i + 3], ttl)
  end
  mark_decision(markers, KEYS[3], ARGV[i], ARGV[i + 1], status)
end
write_markers(markers, KEYS[3])
local removed = 0
if #decided > 0 then
  removed = rcall('ZREM', KEYS[2], unpack(decided))
end
if removed > 0 then
  rcall('INCRBY', KEYS[6], removed)
end

write_seat_cache(KEYS[4], ARGV[5], ARGV[4], ARGV[6])
if unplaced then
  -- A place the mirror was not told: every place after it would be reported too far ahead.
  rcall('HDEL', KEYS[4], 'wv')
elseif follows then
  waitlist_reached(KEYS[4], ARGV[5])
end

local left = rcall('ZCARD', KEYS[2])
if left == 0 then
  rcall('SREM', KEYS[5], ARGV[3])
end
return left
