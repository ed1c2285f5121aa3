-- Records a decision on a request's hash (kept for a while for the student to read).
local function record_request_decision(request_key, status, reason, ttl)
  redis.call('HSET', request_key, 'st', status, 'r', reason)
  redis.call('EXPIRE', request_key, ttl)
end

-- Keeps the course's live marker of the student in step with a decision: 'E' once enrolled; the
-- request once it holds the student's waitlist place (after a loss of Redis data a rebuild may
-- have pointed the marker at the place's older request); removed when the request it pointed at
-- was rejected. The markers to set are gathered in `sets` (student, value pairs), so that a batch
-- writes them with one command (write_markers); a removal is done at once. Within a batch this
-- ends where deciding one by one would: a removal only takes a marker that still names the
-- rejected request, and the sets, written last, are each student's newest decision.
local function mark_decision(sets, live_key, request_id, student, status)
  if status == 'enrolled' then
    sets[#sets + 1] = student
    sets[#sets + 1] = 'E'
  elseif status == 'waitlisted' then
    sets[#sets + 1] = student
    sets[#sets + 1] = request_id
  elseif status == 'rejected' then
    if redis.call('HGET', live_key, student) == request_id then
      redis.call('HDEL', live_key, student)
    end
  end
end

local function write_markers(sets, live_key)
  if #sets > 0 then
    redis.call('HSET', live_key, unpack(sets))
  end
end

-- One decision: the request's hash and the student's marker.
local function record_decision(request_key, live_key, request_id, student, status, reason, ttl)
  record_request_decision(request_key, status, reason, ttl)
  local sets = {}
  mark_decision(sets, live_key, request_id, student, status)
  write_markers(sets, live_key)
end
