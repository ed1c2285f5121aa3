-- Records a decision on a request's hash (kept for a while for the student to read) and keeps
-- the course's live marker of the student in step: 'E' once enrolled; the request once it holds
-- the student's waitlist place (after a loss of Redis data a rebuild may have pointed the marker
-- at the place's older request); removed when the request it pointed at was rejected.
local function record_decision(request_key, live_key, request_id, student, status, reason, ttl)
  redis.call('HSET', request_key, 'st', status, 'r', reason)
  redis.call('EXPIRE', request_key, ttl)
  if status == 'enrolled' then
    redis.call('HSET', live_key, student, 'E')
  elseif status == 'waitlisted' then
    redis.call('HSET', live_key, student, request_id)
  elseif status == 'rejected' then
    if redis.call('HGET', live_key, student) == request_id then
      redis.call('HDEL', live_key, student)
    end
  end
end
