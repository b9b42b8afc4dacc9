-- wrk script for the proof benchmark (BENCHMARKS.md, issue 15): GET /v1/receipts/{id}/proof
-- for receipt ids read from the file given as the first argument (one id per line), each
-- request a random one of them. Answers are counted by status, and `done` prints one
-- machine-readable line with the latency percentiles.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  ids = {}
  for line in io.lines(args[1]) do
    table.insert(ids, line)
  end
  math.randomseed(os.time() + tid)
  ok, other = 0, 0
end

function request()
  return wrk.format("GET", "/v1/receipts/" .. ids[math.random(#ids)] .. "/proof")
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local o, x = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    x = x + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    "KELISIM requests=%d duration_us=%d socket_errors=%d ok=%d other=%d " ..
    "p50_us=%d p95_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout,
    o, x, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
