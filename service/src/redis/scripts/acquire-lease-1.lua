--[[
  Take or renew a course's admission lease.

  KEYS[1] lease key
  ARGV[1] token of the caller
  ARGV[2] lease time in milliseconds

  Output: 1 if the caller holds the lease now, 0 if another holder does
]]
local rcall = redis.call

local holder = rcall('GET', KEYS[1])
if holder == ARGV[1] then
  rcall('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then
  return 0
end
rcall('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
