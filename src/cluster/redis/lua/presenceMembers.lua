-- RedisPresence.members. KEYS: the topic's presence users hash. ARGV: limit.
-- Returns {count, {user, sessions, ...}}: every member when there are at most `limit`, else
-- `limit` distinct ones picked by HRANDFIELD (O(limit), where listing and sorting all of a
-- large topic would be O(count)). One script, so that the count and the members agree.
local count = redis.call('HLEN', KEYS[1])
local limit = tonumber(ARGV[1])
if count <= limit then return {count, redis.call('HGETALL', KEYS[1])} end
return {count, redis.call('HRANDFIELD', KEYS[1], limit, 'WITHVALUES')}
