-- The course's waitlist as Redis mirrors it for reads: a sorted set of request ids scored by their
-- place (the MySQL waitlist row id, the waitlist's order), and field 'wv' of the seat cache, the
-- course version through which the mirror holds every change. Every change of a course's seats or
-- waitlist raises its version by one and reaches Redis once (settle, reflect), so the mirror takes
-- changes strictly in version order: one that arrives out of order would mix an older waitlist
-- with a newer one, so it leaves the mirror behind instead, and a mirror behind the seat cache
-- answers nothing until the reconciler rebuilds it from MySQL.

-- The version the mirror holds every change through, or -1 when that is unknown.
local function waitlist_version(seats_key)
  return tonumber(redis.call('HGET', seats_key, 'wv') or '-1')
end

-- Whether a change from version `from` to `to` may write the mirror: it is the next change the
-- mirror expects, or the one it is at (a retry, or a batch that changed no row). A course at
-- version 0 never had a change, so it has no waitlist: an unknown mirror starts there empty.
local function waitlist_follows(seats_key, waitlist_key, from, to)
  local at = waitlist_version(seats_key)
  from = tonumber(from)
  to = tonumber(to)
  if at == -1 and from == 0 then
    redis.call('DEL', waitlist_key)
    return true
  end
  return at == from or at == to
end

-- Puts a request at its place; a request the place answered to before (the student asked again)
-- gives way.
local function place_on_waitlist(waitlist_key, request_id, place)
  redis.call('ZREMRANGEBYSCORE', waitlist_key, place, place)
  redis.call('ZADD', waitlist_key, place, request_id)
end

-- Records that the mirror now holds every change through version `to`.
local function waitlist_reached(seats_key, to)
  if waitlist_version(seats_key) < tonumber(to) then
    redis.call('HSET', seats_key, 'wv', to)
  end
end
