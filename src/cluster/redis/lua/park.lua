-- RedisSessions (session directory).
-- KEYS: owner, mailbox. ARGV: instanceId, envelope JSON, ttlMs, limit.
-- Parks the envelope when the caller still owns the session: returns {1}. Otherwise {0, owner}
-- ({0} when nobody does).
local owner = redis.call('GET', KEYS[1])
if owner ~= ARGV[1] then
  if owner then return {0, owner} end
  return {0}
end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1}
