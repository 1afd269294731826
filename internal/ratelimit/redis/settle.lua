-- KEYS: rpm tat, tpm tat, concurrency zset
-- ARGV: now_us (0 = server time), tpm, token_delta, ticket, release (0|1)
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local tpm, delta = tonumber(ARGV[2]), tonumber(ARGV[3])
if tpm > 0 and delta ~= 0 then
  local interval = 60000000 / tpm
  local tat = tonumber(redis.call('GET', KEYS[2]) or '0')
  if tat < now then tat = now end
  tat = tat + delta * interval
  if tat < now then tat = now end
  redis.call('SET', KEYS[2], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
end
if ARGV[5] == '1' then
  redis.call('ZREM', KEYS[3], ARGV[4])
end
return 0
