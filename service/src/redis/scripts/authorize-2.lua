--[[
  Check that a session is alive and count the request against the student's rate limit.

  KEYS[1] session key      sess:<sid>
  KEYS[2] rate-limit key   rl:<student>:<window>

  ARGV[1] student id the signed cookie names
  ARGV[2] rate limit: max requests per window
  ARGV[3] rate limit: window in milliseconds

  Output: { code, retry-after ms }   0 ok, 2 unauthenticated, 3 rate limited
]]
local rcall = redis.call

if rcall('GET', KEYS[1]) ~= ARGV[1] then
  return { 2, 0 }
end

local used = rcall('INCR', KEYS[2])
if used == 1 then
  rcall('PEXPIRE', KEYS[2], ARGV[3])
end
if used > tonumber(ARGV[2]) then
  local ttl = rcall('PTTL', KEYS[2])
  if ttl < 0 then
    rcall('PEXPIRE', KEYS[2], ARGV[3])
    ttl = tonumber(ARGV[3])
  end
  return { 3, ttl }
end
return { 0, 0 }
