--[[
  Count a failed login in fixed windows: against the device when the attempt carried a device
  cookie of the account, else against the account and the client address.

  KEYS[1] failures of the account   fail:acct:<student>
  KEYS[2] failures of the address   fail:addr:<address>
  KEYS[3] failures of the device    fail:dev:<token>    (any key when there is no device cookie)

  ARGV[1] account window in milliseconds
  ARGV[2] address window in milliseconds
  ARGV[3] device window in milliseconds
  ARGV[4] '1' when the attempt carries a device cookie of this account

  Output: 1
]]
local rcall = redis.call

local function count(key, window)
  if rcall('INCR', key) == 1 then
    rcall('PEXPIRE', key, window)
  end
end

if ARGV[4] == '1' then
  count(KEYS[3], ARGV[3])
else
  count(KEYS[1], ARGV[1])
  count(KEYS[2], ARGV[2])
end
return 1
