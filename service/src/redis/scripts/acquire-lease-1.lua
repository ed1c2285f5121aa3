--[[
  Take or renew a course's admission lease.

  KEYS[1] lease key
  ARGV[1] token of the caller
  ARGV[2] lease time in milliseconds

  Output: 0 another holder has it; 1 renewed (the caller held it all along);
          2 newly taken (nobody held it: whatever the caller knew of the course may be stale,
            so it must fence MySQL again before deciding anything)
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
return 2
