--[[
  Reflect a committed cancellation: the canceller's seat is gone and, if the waitlist head was
  promoted in the same MySQL transaction, that request is now enrolled. Removes the cancellation's
  mark. Safe to run more than once (the service retries it when Redis did not answer).

  KEYS[1] live requests    live:<course>
  KEYS[2] seat cache       seats:<course>
  KEYS[3] promoted request hash (req:<id>), or any key when nobody was promoted
  KEYS[4] cancellations    cancelling:<course>

  ARGV[1] canceller's student id
  ARGV[2] seats left after the commit
  ARGV[3] course version after the commit
  ARGV[4] promoted student id, or ''
  ARGV[5] seconds to keep a decided request
  ARGV[6] key prefix
  ARGV[7] cancellation id (its mark is removed)
  ARGV[8..] pairs: request id, reason — waitlisted requests dropped by the rules

  Output: 1
]]
local rcall = redis.call

local version = tonumber(ARGV[3])
local cached = tonumber(rcall('HGET', KEYS[2], 'v') or '-1')
if version >= cached then
  rcall('HSET', KEYS[2], 'v', version, 'left', ARGV[2])
  -- Only when this is the newest state: a later enrollment of the canceller keeps its marker.
  if rcall('HGET', KEYS[1], ARGV[1]) == 'E' then
    rcall('HDEL', KEYS[1], ARGV[1])
  end
end

local ttl = tonumber(ARGV[5])
if ARGV[4] ~= '' then
  if rcall('EXISTS', KEYS[3]) == 1 then
    rcall('HSET', KEYS[3], 'st', 'enrolled', 'r', '')
    rcall('EXPIRE', KEYS[3], ttl)
  end
  rcall('HSET', KEYS[1], ARGV[4], 'E')
end
for i = 8, #ARGV, 2 do
  local key = ARGV[6] .. 'req:' .. ARGV[i]
  if rcall('EXISTS', key) == 1 then
    rcall('HSET', key, 'st', 'rejected', 'r', ARGV[i + 1])
    rcall('EXPIRE', key, ttl)
    local student = rcall('HGET', key, 's')
    if student and rcall('HGET', KEYS[1], student) == ARGV[i] then
      rcall('HDEL', KEYS[1], student)
    end
  end
end
rcall('ZREM', KEYS[4], ARGV[7])
return 1
