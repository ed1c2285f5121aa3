--[[
  Takes back attempts counted by reserve-attempt (the password was right): one less on each
  counter that is still in the window the attempt was counted in. A window that has ended owes
  nothing, and the next one must not pay for it.

  KEYS[1..n] the counters
  ARGV[1..n] the window each attempt was counted in (when it ends: PEXPIRETIME, ms)

  Output: how many counters gave one back
]]
local rcall = redis.call

local released = 0
for i = 1, #KEYS do
  local key = KEYS[i]
  if rcall('PEXPIRETIME', key) == tonumber(ARGV[i]) and tonumber(rcall('GET', key) or '0') > 0 then
    rcall('DECR', key)
    released = released + 1
  end
end
return released
