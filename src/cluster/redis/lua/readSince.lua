-- RedisBroker.readSince; prepended with lastId.lua and trim.lua (see scripts.ts).
-- KEYS: history stream. ARGV: since, minId (`<ms>-0`), count.
-- Drops entries past their age first, then returns {last-generated-id, max-deleted-entry-id,
-- up to count entries after since} or {} when no stream. The caller pages on from the last
-- entry; since at or above max-deleted-entry-id means nothing after it was dropped.
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
trim(KEYS[1], lastId(KEYS[1]), nil, ARGV[2])
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local lastGenerated, maxDeleted = '0-0', '0-0'
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then lastGenerated = info[i + 1] end
  if info[i] == 'max-deleted-entry-id' then maxDeleted = info[i + 1] end
end
return {lastGenerated, maxDeleted, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[3])}
