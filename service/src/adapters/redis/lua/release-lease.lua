--[[
  Give a lease back, only if the caller still holds it.

  KEYS[1] the lease
  ARGV[1] token of the caller

  Output: 1 released, 0 not held by the caller
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
