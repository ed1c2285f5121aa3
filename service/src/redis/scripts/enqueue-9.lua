--[[
  Join a course's waiting queue: authenticate, rate-limit and enqueue in one round trip.

  KEYS[1] session key            sess:<sid>         (string: student id)
  KEYS[2] rate-limit key         rl:<student>:<win> (counter, expires with its window)
  KEYS[3] live requests of course  live:<course>    (hash: student -> request id, or 'E' once enrolled)
  KEYS[4] course queue           q:<course>         (sorted set: request id scored by arrival number)
  KEYS[5] seat cache             seats:<course>     (hash: v = course version, left = seats left)
  KEYS[6] arrival counter        seq                (global INCR; fair across instances, no clocks)
  KEYS[7] active courses         active             (set of courses whose queue may be non-empty)
  KEYS[8] new request            req:<request id>   (hash)
  KEYS[9] cancellations          cancelling:<course> (sorted set: cancellation id -> expiry ms)

  ARGV[1] student id
  ARGV[2] new request id
  ARGV[3] course id
  ARGV[4] waitlist wanted: '1' or '0'
  ARGV[5] rate limit: max requests per window
  ARGV[6] rate limit: window in milliseconds
  ARGV[7] key prefix (to read an existing request's hash)

  Output: { code, request id, status, position, queue length, retry-after ms }
    0 created (queued)          1 existing live request (status as stored)
    2 unauthenticated           3 rate limited (retry-after ms set)
    4 course known to be full   5 already enrolled
]]
local rcall = redis.call

local owner = rcall('GET', KEYS[1])
if owner ~= ARGV[1] then
  return { 2, '', '', 0, 0, 0 }
end

local used = rcall('INCR', KEYS[2])
if used == 1 then
  rcall('PEXPIRE', KEYS[2], ARGV[6])
end
if used > tonumber(ARGV[5]) then
  local ttl = rcall('PTTL', KEYS[2])
  if ttl < 0 then
    rcall('PEXPIRE', KEYS[2], ARGV[6])
    ttl = tonumber(ARGV[6])
  end
  return { 3, '', '', 0, 0, ttl }
end

local live = rcall('HGET', KEYS[3], ARGV[1])
if live == 'E' then
  return { 5, '', '', 0, 0, 0 }
end
if live then
  local status = rcall('HGET', ARGV[7] .. 'req:' .. live, 'st')
  if status == 'queued' then
    local rank = rcall('ZRANK', KEYS[4], live)
    if rank then
      return { 1, live, status, rank + 1, rcall('ZCARD', KEYS[4]), 0 }
    end
  elseif status == 'waitlisted' then
    return { 1, live, status, 0, rcall('ZCARD', KEYS[4]), 0 }
  end
  -- The request it pointed at was decided or has expired: the student may ask again.
end

-- Known full, and no cancellation in flight that may be freeing a seat: refuse at the door.
if ARGV[4] ~= '1' and rcall('HGET', KEYS[5], 'left') == '0' then
  local now = rcall('TIME')
  local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  if rcall('ZCOUNT', KEYS[9], '(' .. nowMs, '+inf') == 0 then
    return { 4, '', '', 0, 0, 0 }
  end
end

local seq = rcall('INCR', KEYS[6])
rcall('HSET', KEYS[8], 's', ARGV[1], 'c', ARGV[3], 'q', seq, 'w', ARGV[4], 'st', 'queued')
rcall('ZADD', KEYS[4], seq, ARGV[2])
rcall('HSET', KEYS[3], ARGV[1], ARGV[2])
-- The arrival number is the largest so far, so this request is last in its queue.
local length = rcall('ZCARD', KEYS[4])
if length == 1 then
  -- The queue was empty: make it visible to the workers (settle removes it when it drains).
  rcall('SADD', KEYS[7], ARGV[3])
end
return { 0, ARGV[2], 'queued', length, length, 0 }
