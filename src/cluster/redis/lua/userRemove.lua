-- RedisUsers.remove. KEYS: user instances hash. ARGV: instance ID.
-- One session fewer on the instance; the field goes at zero. Returns the sessions left there.
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
return left
