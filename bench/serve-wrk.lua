-- wrk script of the serving benchmark (bench/serve-load.ts): POST /predict with the bodies of the
-- file named by $BODIES (one JSON document per line), in rotation; at the end, one JSON line with
-- the counts and latency percentiles (microseconds) for the benchmark to read.
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do
  if line ~= "" then bodies[#bodies + 1] = line end
end
local next_body = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  next_body = next_body % #bodies + 1
  return wrk.format(nil, "/predict", nil, bodies[next_body])
end

done = function(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
