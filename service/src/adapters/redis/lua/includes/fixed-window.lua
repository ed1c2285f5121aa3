-- Fixed-window counters: a key per window that expires with it.

-- Counts one event; returns the count in the window so far.
local function count_in_window(key, window_ms)
  local used = redis.call('INCR', key)
  if used == 1 then
    redis.call('PEXPIRE', key, window_ms)
  end
  return used
end

-- Milliseconds until the window ends (repairs a counter that lost its expiry).
local function window_left_ms(key, window_ms)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window_ms)
    ttl = tonumber(window_ms)
  end
  return ttl
end

-- Counts one request against a limit; returns nil while within it, else the ms to wait.
local function over_limit(key, max, window_ms)
  if count_in_window(key, window_ms) > tonumber(max) then
    return window_left_ms(key, window_ms)
  end
  return nil
end
