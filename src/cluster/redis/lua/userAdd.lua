-- RedisUsers.add. KEYS: user instances hash. ARGV: instance ID, limit (0: none).
-- Counts one more session of the user on the instance, unless the user already has `limit`
-- sessions in the cluster: then nothing changes. Returns 1 (counted) or 0 (refused).
local limit = tonumber(ARGV[2])
if limit > 0 then
  local total = 0
  for _, n in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(n) end
  if total >= limit then return 0 end
end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return 1
