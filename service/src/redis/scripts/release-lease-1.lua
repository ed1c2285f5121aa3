--[[
  Give a lease back, only if the caller still holds it.

  KEYS[1] lease key
  ARGV[1] token of the caller

  Output: 1 released, 0 not held by the caller
]]
local rcall = redis.call

if rcall('GET', KEYS[1]) == ARGV[1] then
  rcall('DEL', KEYS[1])
  return 1
end
return 0
