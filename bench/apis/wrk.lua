-- wrk script of bench/apis/run.sh: the same small conversation through
-- one of three APIs (BENCH_API: chat, messages, responses; mix: the three
-- in turn), streamed or not (BENCH_STREAM=1), and one line of results
-- when done.
local api = os.getenv("BENCH_API") or "chat"
local stream = os.getenv("BENCH_STREAM") == "1" and "true" or "false"
local bodies = {
  chat = '{"model":"deepseek-chat","max_tokens":16,"stream":' .. stream ..
    ',"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello."}]}',
  messages = '{"model":"deepseek-chat","max_tokens":16,"stream":' .. stream ..
    ',"system":"Be brief.","messages":[{"role":"user","content":"Say hello."}]}',
  responses = '{"model":"deepseek-chat","max_output_tokens":16,"stream":' .. stream ..
    ',"store":false,"instructions":"Be brief.","input":"Say hello."}',
}
local paths = {chat = "/v1/chat/completions", messages = "/v1/messages", responses = "/v1/responses"}

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if api == "mix" then
  -- The three APIs in turn (run.sh's MIX, with wrk -t1: one counter for
  -- every connection, so each API gets a third of the requests).
  local reqs, n = {}, 0
  init = function() -- wrk.format needs the host, set by now
    for i, a in ipairs({"chat", "messages", "responses"}) do
      reqs[i] = wrk.format("POST", paths[a], nil, bodies[a])
    end
  end
  request = function()
    n = n + 1
    return reqs[(n - 1) % 3 + 1]
  end
else
  wrk.path = paths[api]
  wrk.body = bodies[api]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT %d %d %d %d\n', summary.requests, e.status, e.connect + e.read + e.write, e.timeout))
end
