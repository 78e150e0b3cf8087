-- RedisUserInbox.confirm. Prepended with trim.lua (for idAtLeast).
-- KEYS: user inbox stream, meta hash. ARGV: upTo, the ID right after it (`<ms>-<seq + 1>`).
-- upTo must be a message of the user: held in the inbox, or at or below what was confirmed
-- (`acked`) or dropped unconfirmed (`lost`) already. Then every message up to it goes, `acked`
-- moves up, and `lost` is cleared once confirmed past: the client was told (welcome) and has
-- confirmed what came after. Returns 1, or 0 for an unknown upTo.
local stream, meta, upTo = KEYS[1], KEYS[2], ARGV[1]
local acked = redis.call('HGET', meta, 'acked')
local lost = redis.call('HGET', meta, 'lost')
if not redis.call('XRANGE', stream, upTo, upTo)[1] then
  local known = (acked and idAtLeast(acked, upTo)) or (lost and idAtLeast(lost, upTo))
  if not known then return 0 end
end
redis.call('XTRIM', stream, 'MINID', ARGV[2])
if not acked or not idAtLeast(acked, upTo) then redis.call('HSET', meta, 'acked', upTo) end
if lost and idAtLeast(upTo, lost) then redis.call('HDEL', meta, 'lost') end
local ttl = redis.call('PTTL', stream)
if ttl > 0 then redis.call('PEXPIRE', meta, ttl) end
return 1
