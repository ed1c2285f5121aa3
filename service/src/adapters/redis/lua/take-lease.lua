--[[
  Take or renew a lease (a course's admission, the reconciler).

  KEYS[1] the lease
  ARGV[1] token of the caller
  ARGV[2] lease time in milliseconds

  Output: 0 another holder has it; 1 renewed (the caller held it all along);
          2 newly taken (nobody held it: whatever the caller knew of the course may be stale,
            so it must fence MySQL again before deciding anything)
]]
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 2
