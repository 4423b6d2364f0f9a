-- wrk script of the HTTP intake benchmark (tests/bench/test_bench_http_intake.py):
-- POST /api/v1/tickets with a demand text, a phone and a point in the county (type and category
-- left to the classifier), as an operator (Bearer token).
-- Arguments (after wrk's "--"): the points file ("lon lat" a line), the token, and a tag that
-- sets these requests' texts apart from another run's.
-- `done` prints one line "WRK_JSON {...}": requests, duration, p50/p99/max latency (µs), every
-- status seen and the socket errors.

local texts = {
  "小区门口有人占道经营，堵住了出口，晚上还很吵",
  "楼上装修噪音扰民，晚上十点还在施工",
  "路灯不亮已经一周了，晚上走路很危险",
  "饭店油烟直排，影响居民生活",
  "自来水停水没有提前通知，家里没水做饭",
  "路边垃圾堆了好几天没人清运，臭味很大",
}
local threads = {}
local counter = 0
local points = {}
local body_head, token, tag

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  for line in io.lines(args[1]) do
    local lon, lat = line:match("^(%S+)%s+(%S+)$")
    if lon then table.insert(points, {lon, lat}) end
  end
  token = args[2]
  tag = args[3] or "r"
  statuses = {}
  wrk.method = "POST"
  wrk.path = "/api/v1/tickets"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  counter = counter + 1
  local p = points[(counter + id * 7919) % #points + 1]
  local body = string.format(
    '{"channel":"phone","text":"%s（%s-%d-%d）","citizen":{"name":"张三","phone":"139%04d%04d"},'
    .. '"lon":%s,"lat":%s}',
    texts[counter % #texts + 1], tag, id, counter, id % 10000, counter % 10000, p[1], p[2])
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local seen = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses") or {}) do
      seen[status] = (seen[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(seen) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
    .. '"statuses":{%s},"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, table.concat(parts, ","), e.connect, e.read, e.write, e.timeout))
end
