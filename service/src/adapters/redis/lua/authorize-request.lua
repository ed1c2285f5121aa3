--[[
  Check that a session is alive and count the request against the student's rate limit.

  KEYS[1] the session
  KEYS[2] the student's request counter of this window

  ARGV[1] student id the signed cookie names
  ARGV[2] most requests per window
  ARGV[3] window in milliseconds

  Output: { code, retry-after ms }   0 ok, 1 unauthenticated, 2 rate limited
]]
--@include fixed-window

if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return { 1, 0 }
end
local wait = over_limit(KEYS[2], ARGV[2], ARGV[3])
if wait then
  return { 2, wait }
end
return { 0, 0 }
