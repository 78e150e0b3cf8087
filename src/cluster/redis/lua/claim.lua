-- RedisSessions (session directory).
-- KEYS: owner, mailbox, open jobs. ARGV: instanceId, ttlMs. Takes ownership; returns and
-- empties the mailbox, and returns the open jobs: {parked, {requestId, deadline, …}}.
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local parked = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
local open = redis.call('HGETALL', KEYS[3])
if #open > 0 and redis.call('PTTL', KEYS[3]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
return {parked, open}
