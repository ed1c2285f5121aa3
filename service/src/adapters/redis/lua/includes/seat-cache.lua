-- The seat cache of a course (hash: v = course version, left = seats left). Every write carries
-- the course version it reflects, and an older version never overwrites a newer one, so writes
-- that arrive out of order (a retry, a repair) cannot make the cache go back in time.

-- Writes the cache unless it already holds a newer version; returns true when it wrote.
local function write_seat_cache(key, version, left)
  local cached = tonumber(redis.call('HGET', key, 'v') or '-1')
  if tonumber(version) < cached then
    return false
  end
  redis.call('HSET', key, 'v', version, 'left', left)
  return true
end

-- True while a cancellation of the course is between its mark and its reflection: the cache
-- may be about to show a freed seat, so nothing may be answered "full" from it.
local function cancellation_in_flight(cancelling_key, now)
  return redis.call('ZCOUNT', cancelling_key, '(' .. now, '+inf') > 0
end
