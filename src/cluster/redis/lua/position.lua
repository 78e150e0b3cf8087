-- RedisBroker.position; prepended with lastId.lua (see scripts.ts).
-- KEYS: history stream. ARGV: ttlMs.
-- Returns the topic's position: the offset of the newest entry ever added. Without a stream
-- it creates an empty one whose last-generated-id is the position returned (an entry added
-- and deleted at once; XDEL also records it as max-deleted-entry-id), expiring after ttlMs
-- like a history stream. The first publish.lua then finds a stream that is not new: it appends
-- after the position and leaves the deleted mark where it is, so readSince.lua vouches for the
-- position, and still for no offset of an earlier incarnation. An empty stream costs about
-- 380 bytes (MEMORY USAGE).
local last = lastId(KEYS[1])
if last ~= '0-0' then return last end
local id = redis.call('XADD', KEYS[1], '*', 'p', '')
redis.call('XDEL', KEYS[1], id)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return id
