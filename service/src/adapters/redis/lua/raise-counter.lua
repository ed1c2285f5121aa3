--[[
  Raise a counter to at least a value. After Redis loses its data the arrival counter starts again
  from zero; raising it above every arrival number MySQL has recorded keeps new requests after the
  old ones (and outside the decided-through marks that stop bulk rejection).

  KEYS[1] the counter
  ARGV[1] least value

  Output: the counter's value
]]
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local least = tonumber(ARGV[1])
if current < least then
  redis.call('SET', KEYS[1], least)
  return least
end
return current
