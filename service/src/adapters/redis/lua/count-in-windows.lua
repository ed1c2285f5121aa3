--[[
  Count one event on each of some fixed-window counters.

  KEYS[1..n] the counters
  ARGV[1..n] the window of each, in milliseconds

  Output: 1
]]
--@include fixed-window

for i = 1, #KEYS do
  count_in_window(KEYS[i], ARGV[i])
end
return 1
