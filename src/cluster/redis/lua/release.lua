-- RedisSessions (session directory).
-- KEYS: owner, mailbox, open jobs. ARGV: instanceId. Forgets the session if the caller owns it.
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) end
return 0
