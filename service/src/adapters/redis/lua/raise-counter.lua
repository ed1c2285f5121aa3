--[[
  Raise counters to at least a value each. After Redis loses its data a course's arrival counter
  starts again from zero; raising it above every arrival number MySQL has recorded for the course
  keeps new requests after the old ones (and outside the decided-through marks that stop bulk
  rejection).

  KEYS[1..n] the counters (of one slot)
  ARGV[1..n] the least value of each

  Output: how many were raised
]]
local raised = 0
for i = 1, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  local least = tonumber(ARGV[i])
  if current < least then
    redis.call('SET', KEYS[i], least)
    raised = raised + 1
  end
end
return raised
