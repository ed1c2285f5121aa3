--[[
  Counts one login attempt on some fixed-window counters, or refuses it, in one step: however
  many attempts arrive at once, no more are let through than the counters allow. The attempt is
  a failure until release-attempt takes it back.

  KEYS[1..n] the counters
  ARGV[1..]  per counter, in KEYS' order: the most it may count in its window, the window in ms

  Output: { 0, the window of each counter } when counted on every counter (a window is named by
  when it ends: PEXPIRETIME, ms); else, counting nothing, { the 1-based index of the first
  counter at its max, ms until its window ends }
]]
--@include fixed-window

local rcall = redis.call

for i = 1, #KEYS do
  local used = tonumber(rcall('GET', KEYS[i]) or '0')
  if used >= tonumber(ARGV[2 * i - 1]) then
    return { i, window_left_ms(KEYS[i], ARGV[2 * i]) }
  end
end

local windows = { 0 }
for i = 1, #KEYS do
  count_in_window(KEYS[i], ARGV[2 * i])
  windows[i + 1] = rcall('PEXPIRETIME', KEYS[i])
end
return windows
