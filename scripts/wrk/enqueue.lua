-- wrk script: POST an enrollment request per call, rotating over the logged-in students' cookies
-- (one per line in the file named by COOKIES) and over COURSES courses, so that nearly every
-- request joins a queue for the first time.
local cookies = {}
local courses = tonumber(os.getenv("COURSES") or "50")
local n = 0

for line in io.lines(os.getenv("COOKIES")) do
  cookies[#cookies + 1] = line
end

request = function()
  local i = n
  n = n + 1
  local course = string.format("C%04d", (math.floor(i / #cookies) % courses) + 1)
  return wrk.format(
    "POST",
    "/api/v1/courses/" .. course .. "/enrollment-requests",
    { ["content-type"] = "application/json", ["cookie"] = cookies[(i % #cookies) + 1] },
    "{}"
  )
end
