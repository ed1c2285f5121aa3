--[[
  Take a course out of the active set once its queue is empty. Atomic with enqueue-request.lua,
  which adds the course when its queue goes from empty to one: a request that arrives between a
  worker's read and this call keeps its course active.

  KEYS[1] the course's queue
  KEYS[2] the active courses of the course's group
  ARGV[1] course id

  Output: 1 forgotten, 0 the queue is not empty
]]
if redis.call('ZCARD', KEYS[1]) > 0 then
  return 0
end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
