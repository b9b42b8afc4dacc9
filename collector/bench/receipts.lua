-- wrk script for `cargo xtask bench`: every request is a new, valid consent receipt (a form
-- consent with a phone number, as the demo's contact form sends), POSTed to the path given
-- as the first argument. Keys are unique per run (second argument), thread and request.
-- The answers are counted by status, and `done` prints one machine-readable line.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  path = args[1] or "/v1/receipts"
  run = tonumber(args[2] or "0")
  created, ok, other, n = 0, 0, 0, 0
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  n = n + 1
  local key = string.format("%08x%08x00000000%08x", run, tid, n)
  local body = '{"site":"bench","kind":"form","event":"given","key":"' .. key .. '",' ..
    '"secret":"9d4e2c7a1b3f5e6d8c0a2b4d6f8e1a3c",' ..
    '"policy_version":"2026-03","lang":"ru",' ..
    '"purposes":[{"id":"feedback","granted":true}],' ..
    '"subject":{"browser_id":"5f0c8e2a7b1d4c3e9a6f8b2d1c0e7a94",' ..
    '"identifiers":[{"type":"phone","value":"8 (701) 123-45-67"}]},' ..
    '"context":{"page_url":"http://127.0.0.1:8080/contact.html","form_id":"feedback",' ..
    '"fields":["name","phone","message"],"gpc":false}}'
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  elseif status == 200 then
    ok = ok + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local c, o, x = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("ok")
    x = x + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    "KELISIM requests=%d duration_us=%d socket_errors=%d created=%d ok=%d other=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    c, o, x, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
