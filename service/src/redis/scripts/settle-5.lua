--[[
  Record the decisions of a committed admission batch and refresh the seat cache.
  Runs only after the MySQL COMMIT; if it never runs (crash), the requests stay queued and the
  next lease holder finds them already decided in MySQL.

  KEYS[1] lease key      lease:<course>
  KEYS[2] queue          q:<course>
  KEYS[3] live requests  live:<course>
  KEYS[4] seat cache     seats:<course>
  KEYS[5] active courses active

  ARGV[1] lease token
  ARGV[2] key prefix
  ARGV[3] seconds to keep a decided request
  ARGV[4] course id
  ARGV[5] seats left after the commit
  ARGV[6] course version after the commit
  ARGV[7..] groups of four: request id, student id, status, reason ('' if none)

  Output: -1 if the lease was lost (nothing written), else the queue length left
]]
local rcall = redis.call

if rcall('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end

local ttl = tonumber(ARGV[3])
for i = 7, #ARGV, 4 do
  local id, student, status, reason = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local key = ARGV[2] .. 'req:' .. id
  rcall('ZREM', KEYS[2], id)
  rcall('HSET', key, 'st', status, 'r', reason)
  rcall('EXPIRE', key, ttl)
  if status == 'enrolled' then
    rcall('HSET', KEYS[3], student, 'E')
  elseif status == 'rejected' then
    if rcall('HGET', KEYS[3], student) == id then
      rcall('HDEL', KEYS[3], student)
    end
  end
end

local version = tonumber(ARGV[6])
local cached = tonumber(rcall('HGET', KEYS[4], 'v') or '-1')
if version >= cached then
  rcall('HSET', KEYS[4], 'v', version, 'left', ARGV[5])
end

local left = rcall('ZCARD', KEYS[2])
if left == 0 then
  rcall('SREM', KEYS[5], ARGV[4])
end
return left
