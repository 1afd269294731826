-- Reserve ARGV[1] nano-units on every counter in KEYS when each is below
-- its limit; otherwise change nothing.
-- ARGV: amount, then per key its limit, then per key its TTL in ms.
-- Returns {exhausted (1-based index of the first counter at or over its
-- limit; 0 = admitted), then the value of each counter}.
local n = #KEYS
local out = {0}
for i = 1, n do
  local v = tonumber(redis.call('GET', KEYS[i]) or '0')
  out[i + 1] = v
  if out[1] == 0 and v >= tonumber(ARGV[1 + i]) then
    out[1] = i
  end
end
if out[1] ~= 0 then
  return out
end
for i = 1, n do
  out[i + 1] = redis.call('INCRBY', KEYS[i], ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ARGV[1 + n + i])
end
return out
