--[[
  Read the head of a course's queue for the lease holder, in arrival order.

  KEYS[1] lease key   lease:<course>
  KEYS[2] queue       q:<course>
  KEYS[3] active courses

  ARGV[1] lease token
  ARGV[2] how many requests to read
  ARGV[3] key prefix
  ARGV[4] course id

  Output: -1 if the caller does not hold the lease; otherwise a flat list
    { request id, student id, waitlist flag, arrival number, ... }
  A queue entry whose request hash is gone is dropped here (it cannot be decided), and an empty
  queue leaves the active set so that workers stop looking at it.
]]
local rcall = redis.call

if rcall('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end

local out = {}
local ids = rcall('ZRANGE', KEYS[2], 0, tonumber(ARGV[2]) - 1, 'WITHSCORES')
if #ids == 0 then
  rcall('SREM', KEYS[3], ARGV[4])
end
for i = 1, #ids, 2 do
  local id = ids[i]
  local fields = rcall('HMGET', ARGV[3] .. 'req:' .. id, 's', 'w')
  if fields[1] then
    out[#out + 1] = id
    out[#out + 1] = fields[1]
    out[#out + 1] = fields[2] or '0'
    out[#out + 1] = ids[i + 1]
  else
    rcall('ZREM', KEYS[2], id)
  end
end
return out
