-- RedisSessions (session directory).
-- KEYS: owner, open jobs. ARGV: instanceId, ttlMs, requestId, deadlineMs. Records the job;
-- takes or extends ownership unless another instance has it: 1, else 0.
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
