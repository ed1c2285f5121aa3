--[[
  Take decisions from this second's budget under an operator's overall ceiling, shared by every
  admission worker. The second is Redis's own clock, so instances whose clocks differ agree.

  KEYS[1] the budget (hash: sec, used)
  ARGV[1] decisions wanted
  ARGV[2] the ceiling: decisions per second over every course

  Output: how many were granted (0 when this second's budget is spent)
]]
local now = redis.call('TIME')[1]
local used = 0
if redis.call('HGET', KEYS[1], 'sec') == now then
  used = tonumber(redis.call('HGET', KEYS[1], 'used')) or 0
end
local want = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local granted = math.min(want, math.max(0, limit - used))
redis.call('HSET', KEYS[1], 'sec', now, 'used', used + granted)
redis.call('EXPIRE', KEYS[1], 5)
return granted
