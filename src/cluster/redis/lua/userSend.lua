-- RedisUserInbox.send: stores a direct message and routes it, atomically for the user.
-- Prepended with lastId.lua, trim.lua and userTrim.lua (see scripts.ts).
-- KEYS: user inbox stream, user instances hash, meta hash, dedupe hash of the current window,
-- of the previous window (one slot: `{u:<app>:<user>}`).
-- ARGV: data, from ('' for none), idempotency key ('' for none), maxLength, minId (`<ms>-0`,
-- the age limit), keepMs (the keys' TTL), dedupeTtlMs, inbox key head, inbox key tail,
-- inbox maxLength, envelope head ('' in a Redis Cluster: the caller writes the inboxes),
-- data field ('d': JSON text; 'b': bytes, stored as they are; see
-- src/cluster/redis/streamEntries.ts).
--
-- Order: append, trim, then read the user's instances (HKEYS), in one script. A session
-- registers its instance before reading the inbox; so each message is in what it reads or
-- routed to it (docs/users.md). On standalone Redis the envelope goes to each instance's
-- inbox here too (`e` = envelope head completed with messageId and prev, `d` or `b` = data, as
-- src/cluster/redis/inboxEntry.ts reads it); NOMKSTREAM: no inbox is created for an instance
-- that is gone.
--
-- Returns {duplicate (0/1), messageId, prev, instance IDs}. For a duplicate on standalone
-- Redis the instances are empty (its first store routed it); in a Redis Cluster they are
-- returned again: an earlier attempt may have stopped before writing the inboxes.
local stream, at, meta, ddNow, ddPrev = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local data, from, key = ARGV[1], ARGV[2], ARGV[3]
local maxLen, minId, keepMs, dedupeTtl = tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7]
local inboxHead, inboxTail, inboxMax, envHead = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local dataField = ARGV[12]

if key ~= '' then
  local seen = redis.call('HGET', ddNow, key) or redis.call('HGET', ddPrev, key)
  if seen then
    local id, prev = string.match(seen, '^(%S+) (%S+)$')
    if envHead ~= '' then return {1, id, prev, {}} end
    return {1, id, prev, redis.call('HKEYS', at)}
  end
end

local prev = lastId(stream)
local id = redis.call('XADD', stream, '*', 'f', from, dataField, data)
local dropped = lengthTrim(stream, maxLen)
markLost(meta, ageTrim(stream, minId) or dropped)
-- The stream outlives its messages by one more age window: its last-generated-id keeps IDs
-- increasing, and meta keeps `lost`, for a user who comes back late.
redis.call('PEXPIRE', stream, keepMs)
redis.call('PEXPIRE', meta, keepMs)
if key ~= '' then
  redis.call('HSET', ddNow, key, id .. ' ' .. prev)
  redis.call('PEXPIRE', ddNow, dedupeTtl)
end

local instances = redis.call('HKEYS', at)
if envHead ~= '' then
  local e = envHead .. '"messageId":"' .. id .. '","prev":"' .. prev .. '"}'
  for i = 1, #instances do
    redis.call('XADD', inboxHead .. instances[i] .. inboxTail, 'NOMKSTREAM', 'MAXLEN', '~', inboxMax, '*', 'e', e, dataField, data)
  end
end
return {0, id, prev, instances}
