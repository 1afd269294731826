-- wrk script of bench/cpu: POSTs a small chat request whose prompt is
-- unique (run id + counter), so a cache in the proxy always misses, and
-- prints one JSON line of results when done.
local run = os.getenv("BENCH_RUN") or "0"
local stream = os.getenv("BENCH_STREAM") == "1"
local key = os.getenv("BENCH_KEY") or ""
local counter = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

request = function()
  counter = counter + 1
  local body = '{"model":"deepseek-chat","messages":[{"role":"user","content":"Say hello. Request ' ..
    run .. "-" .. counter .. '"}],"max_tokens":16,"temperature":0,"stream":' .. (stream and "true" or "false") .. '}'
  return wrk.format(nil, nil, nil, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
