--[[
  Whether a login may be tried now. Counts nothing: only failures are counted (login-failed-3),
  so a campus of students behind one address is not limited by its own successful logins.

  A browser holding a device cookie issued to this very account (it logged in here before) is
  judged by its own failure budget instead of the account's and the address's: an attacker who
  floods an account or a lab's address with wrong passwords cannot lock out its real students.

  KEYS[1] failures of the account   fail:acct:<student>
  KEYS[2] failures of the address   fail:addr:<address>
  KEYS[3] failures of the device    fail:dev:<token>    (any key when there is no device cookie)

  ARGV[1] account: most failures per window
  ARGV[2] address: most failures per window
  ARGV[3] device: most failures per window
  ARGV[4] '1' when the attempt carries a device cookie of this account

  Output: { code, retry-after ms }
    0 may try   1 address over its limit   2 account locked   3 device over its limit
]]
local rcall = redis.call

local function over(key, max)
  local used = tonumber(rcall('GET', key) or '0')
  if used < tonumber(max) then
    return nil
  end
  local ttl = rcall('PTTL', key)
  if ttl < 0 then
    ttl = 1000
  end
  return ttl
end

if ARGV[4] == '1' then
  local ttl = over(KEYS[3], ARGV[3])
  if ttl then
    return { 3, ttl }
  end
  return { 0, 0 }
end

local ttl = over(KEYS[2], ARGV[2])
if ttl then
  return { 1, ttl }
end
ttl = over(KEYS[1], ARGV[1])
if ttl then
  return { 2, ttl }
end
return { 0, 0 }
