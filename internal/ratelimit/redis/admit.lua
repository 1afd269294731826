-- KEYS: rpm tat, tpm tat, concurrency zset
-- ARGV: now_us (0 = server time), rpm, tpm, max_concurrent, tokens, ticket, slot_ttl_us
-- Reply: {allowed, dimension (0 none, 1 requests, 2 tokens, 3 concurrency),
--         retry_us, rpm_remaining, rpm_reset_us, tpm_remaining, tpm_reset_us, inflight}
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local period = 60000000
local rpm, tpm, maxc = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tokens, ticket, ttl = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])

-- A remaining count is a double here; beyond 2^53 it is no exact integer
-- and may not fit the int64 of the reply (a limit of 2^63-1 came back as
-- 0). Larger counts are sent as 2^53, which the client reads as "the
-- whole limit".
local maxrem = 9007199254740992
local function remaining(x)
  if x > maxrem then return maxrem end
  return x
end

local function gcra(key, limit, n)
  local interval = period / limit
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local nxt = tat + n * interval
  local allow_at = nxt - period
  if now < allow_at then
    return false, tat, allow_at - now, remaining(math.floor((period - (tat - now)) / interval)), tat - now
  end
  return true, nxt, 0, remaining(math.floor((period - (nxt - now)) / interval)), nxt - now
end

local dim, retry = 0, 0
local rtat, rrem, rreset, ttat, trem, treset = 0, 0, 0, 0, 0, 0
if rpm > 0 then
  local ok, t, ra, rem, rs = gcra(KEYS[1], rpm, 1)
  rtat, rrem, rreset = t, rem, rs
  if not ok then dim, retry = 1, ra end
end
if tpm > 0 then
  local ok, t, ra, rem, rs = gcra(KEYS[2], tpm, tokens)
  ttat, trem, treset = t, rem, rs
  if not ok and dim == 0 then dim, retry = 2, ra end
end
local inflight = 0
if maxc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('%.0f', now))
  inflight = redis.call('ZCARD', KEYS[3])
  if dim == 0 and inflight >= maxc then dim, retry = 3, 1000000 end
end
if dim ~= 0 then
  return {0, dim, retry, rrem, rreset, trem, treset, inflight}
end
if rpm > 0 then
  redis.call('SET', KEYS[1], string.format('%.0f', rtat), 'PX', math.ceil((rtat - now) / 1000) + 1000)
end
if tpm > 0 then
  redis.call('SET', KEYS[2], string.format('%.0f', ttat), 'PX', math.ceil((ttat - now) / 1000) + 1000)
end
if maxc > 0 then
  redis.call('ZADD', KEYS[3], string.format('%.0f', now + ttl), ticket)
  redis.call('PEXPIRE', KEYS[3], math.ceil(ttl / 1000) + 1000)
  inflight = inflight + 1
end
return {1, 0, 0, rrem, rreset, trem, treset, inflight}
