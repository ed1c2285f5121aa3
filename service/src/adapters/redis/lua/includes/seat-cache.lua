-- The seat cache of a course (hash: v = course version, left = seats left, built = '1' while the
-- course's live markers are known to hold every change through v). Every write carries the course
-- version it reflects, and an older version never overwrites a newer one, so writes that arrive
-- out of order (a retry, a repair) cannot make the cache go back in time.
--
-- 'built' is how a loss of Redis data is seen without a command of its own: it is written only
-- where nothing can be missing (a rebuild from a MySQL snapshot, or a change from version 0, before
-- which a course had no seat taken and no waitlist), and kept only by a write that follows the
-- version the cache is at. After a FLUSHALL, or a failover to a replica that missed writes, the
-- first write lands on a missing or older cache, so 'built' is gone until the reconciler rebuilds
-- the course: until then nothing is answered from the markers' absence (the door does not refuse
-- a student it knows nothing of, bulk rejection waits), and MySQL answers through a batch.

-- Writes the cache unless it already holds a newer version; returns true when it wrote. `from` is
-- the version the change started from (nil when unknown: the markers may have missed something).
local function write_seat_cache(key, version, left, from)
  local seats = redis.call('HMGET', key, 'v', 'built')
  local cached = tonumber(seats[1] or '-1')
  if tonumber(version) < cached then
    return false
  end
  from = tonumber(from or '-1')
  if from == 0 or (seats[2] and from ~= -1 and from <= cached) then
    redis.call('HSET', key, 'v', version, 'left', left, 'built', '1')
  else
    redis.call('HSET', key, 'v', version, 'left', left)
    redis.call('HDEL', key, 'built')
  end
  return true
end

-- Seats left, as far as the door may trust it: nil unless the course's markers are complete (a
-- student without a marker could be enrolled or waitlisted, and only MySQL would know).
local function trusted_seats_left(key)
  local seats = redis.call('HMGET', key, 'left', 'built')
  if seats[2] then
    return seats[1]
  end
  return nil
end

-- True while a cancellation of the course is between its mark and its reflection: the cache
-- may be about to show a freed seat, so nothing may be answered "full" from it.
local function cancellation_in_flight(cancelling_key, now)
  return redis.call('ZCOUNT', cancelling_key, '(' .. now, '+inf') > 0
end
