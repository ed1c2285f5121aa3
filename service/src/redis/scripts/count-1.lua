--[[
  Count one attempt against a fixed-window limit (used for logins, keyed by client address).

  KEYS[1] counter key
  ARGV[1] max attempts per window
  ARGV[2] window in milliseconds

  Output: retry-after ms when over the limit, else 0
]]
local rcall = redis.call

local used = rcall('INCR', KEYS[1])
if used == 1 then
  rcall('PEXPIRE', KEYS[1], ARGV[2])
end
if used > tonumber(ARGV[1]) then
  local ttl = rcall('PTTL', KEYS[1])
  if ttl < 0 then
    rcall('PEXPIRE', KEYS[1], ARGV[2])
    ttl = tonumber(ARGV[2])
  end
  return ttl
end
return 0
