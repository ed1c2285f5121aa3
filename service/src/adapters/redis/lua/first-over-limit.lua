--[[
  Which of some fixed-window counters has reached its limit, checked in order. Counts nothing.

  KEYS[1..n] the counters
  ARGV[1..n] the most each may count in its window

  Output: { 0, 0 } when none is at its limit, else { its 1-based index, ms until its window ends }
]]
for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= tonumber(ARGV[i]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      ttl = 1000
    end
    return { i, ttl }
  end
end
return { 0, 0 }
